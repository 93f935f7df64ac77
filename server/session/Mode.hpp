// Mode.hpp - the session modes and what each one does in the cluster, as data the state machine follows.
//
// A new mode adds a value here, its plan (which steps of the common life it takes), its actions in its
// own file (ExchangeActions.cpp, PreviewActions.cpp, ForwardActions.cpp ...) and a branch in the few
// switch statements that dispatch on it; the driver, the tunnel and the undo order are shared.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tether::session {

enum class Mode {
  Exchange,  // the Service's traffic moves to the local process (selector or scale)
  Connect,   // the local process reaches the namespace by name; nothing in the cluster changes
  Preview,   // a new Service, Tether's own, whose traffic reaches the local process
  Forward,   // local ports reach a Service through the Service (load-balanced), nothing changes
  Mesh,      // the Service's requests that carry the session's header reach the local process
};

const char* toString(Mode mode);
std::optional<Mode> parseMode(std::string_view text);
// "exchange, connect, preview, forward or mesh": for error messages.
const char* modeChoices();

// Which steps of the common life a mode takes. Every mode creates a shadow and opens a tunnel to it.
struct ModePlan {
  bool readsService = false;      // ReadService: the Service must exist (or, for preview, must not)
  bool locksService = false;      // Lock: the Service carries the session's lock and heartbeat
  bool movesTraffic = false;      // MoveTraffic: point the Service at the shadow, or create it
  bool reverseListeners = false;  // the shadow listens and sends connections to local ports
};

ModePlan planFor(Mode mode);

// How the local process reaches the namespace (every mode has it).
enum class Outbound {
  Proxy,    // proxy variables in the launch environment: HTTP clients that honour them (the default)
  Netns,    // its own rootless network namespace (`tether netns-exec`): every TCP connection and DNS query
  Preload,  // the proxy variables, and an LD_PRELOAD shim for the cluster's names and addresses (glibc)
};

const char* toString(Outbound outbound);
std::optional<Outbound> parseOutbound(std::string_view text);

}  // namespace tether::session
