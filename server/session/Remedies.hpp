// Remedies.hpp - what resolves a failed session, said in the words of the client that asked for it.
//
// The command line names `tether` commands and flags. An IDE cannot run either: it gets plain words, and a
// FailureReason (error.data.reason in PROTOCOL.md) from which it names its own fields and commands. So no
// session message for an IDE carries a command line, and no client rewrites the backend's sentences.
#pragma once

#include <string>

namespace tether::session {

enum class Audience { CommandLine, Ide };

// Failures a client can resolve with one specific thing; None for the rest (the message says what to do).
enum class FailureReason {
  None,
  ServiceNotFound,       // pick another Service (field target)
  NamespaceNotFound,     // pick another namespace (field namespace)
  HeldByOwnSession,      // a session of this user that this backend does not run: clean it up if dead
  HeldByOtherSession,    // someone else's session: ask them, or clean it up if dead
  HeldByRunningSession,  // a session this backend runs: stop it first
  StrategyUnsuitable,    // exchange's strategy cannot work for this Service (field exchange.strategy)
  Forbidden,             // a permission this identity lacks: a cluster admin, or another context
  InvalidExpose,         // "invalid-field" expose: a port the Service does not have, ...
  InvalidOutbound,       // "invalid-field" outbound: a tier this machine cannot give
  NeedsRecover,          // a Service left changed that only a recover puts back
  // New reasons go above this line: tests walk ServiceNotFound..kLastFailureReason.
};
inline constexpr FailureReason kLastFailureReason = FailureReason::NeedsRecover;

// The name in PROTOCOL.md ("service-not-found", ...); empty for None.
const char* toString(FailureReason reason);
// The request field (PROTOCOL.md's name) that resolves it, or nullptr.
const char* fieldOf(FailureReason reason);

namespace remedy {

// "; `tether services -n NS` lists them" for the command line, nothing for an IDE (it lists them itself).
std::string listServices(Audience audience, const std::string& namespaceName);
// "; `tether namespaces` lists them (or pass -n with the right one)", or nothing.
std::string listNamespaces(Audience audience);
// "run `tether clean -n NS`" or "clean up stale sessions".
std::string cleanStale(Audience audience, const std::string& namespaceName);
// "`tether clean`" or "a clean-up of stale sessions": the thing that removes what a session left.
std::string cleaner(Audience audience);
// "--strategy scale" or "exchange.strategy \"scale\"".
std::string strategy(Audience audience, const char* value);
// "--image, or TETHER_SHADOW_IMAGE" or "the image field, or TETHER_SHADOW_IMAGE where the backend runs".
std::string imageSetting(Audience audience);
// "run `tether recover SERVICE`" or "recover SERVICE" (an IDE offers its own recover command).
std::string recover(Audience audience, const std::string& service);
// "--outbound X" or "outbound X".
std::string outbound(Audience audience, const char* value);

// An ExposeError's text (which names the flag, --expose) with the field as this audience knows it.
std::string exposeProblem(Audience audience, const std::string& parserText);

}  // namespace remedy

}  // namespace tether::session
