// ActionOutcome.hpp - how a session's actions (ShadowActions.cpp, TunnelActions.cpp and each mode's own)
// report. Internal to server/session: they build Outcomes the same way, from one place.
#pragma once

#include <algorithm>
#include <string>
#include <utility>

#include "server/kube/ApiError.hpp"
#include "server/session/SessionMachine.hpp"

namespace tether::session::action {

inline Outcome done() {
  return Outcome{OutcomeKind::Done, {}};
}

inline Outcome failed(std::string message, Blame blame = Blame::User) {
  return Outcome{OutcomeKind::Failed, std::move(message), blame};
}

// A failure that one thing resolves (Remedies.hpp): a client names its own field or command for it.
inline Outcome failed(std::string message, FailureReason reason) {
  return Outcome{OutcomeKind::Failed, std::move(message), Blame::User, reason};
}

// Transient errors (the network, a busy API server) while active are worth another try; anything else is
// for good.
inline bool transient(const kube::ApiError& error) {
  return error.reason == kube::ApiReason::Transport || error.reason == kube::ApiReason::Timeout ||
         error.reason == kube::ApiReason::Unavailable || error.httpStatus >= 500;
}

inline bool isNumber(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whose the failure is: the cluster's when it did not answer or answered 5xx, the user's otherwise (a
// name, a permission, a port they can change).
inline Blame blameFor(const kube::ApiError& error) {
  return transient(error) ? Blame::Cluster : Blame::User;
}

// A kube error as an outcome: Conflict is retried by the machine, anything else fails with context.
inline Outcome fromError(const kube::ApiError& error, const std::string& what) {
  if (error.reason == kube::ApiReason::Conflict) return Outcome{OutcomeKind::Conflict, error.message};
  std::string hint;
  if (error.reason == kube::ApiReason::Forbidden) hint = "; ask a cluster admin for this permission";
  if (error.reason == kube::ApiReason::Transport) hint = "; check the network or VPN to the cluster";
  if (error.reason == kube::ApiReason::Forbidden)
    return failed(what + ": " + error.message + hint, FailureReason::Forbidden);
  return failed(what + ": " + error.message + hint, blameFor(error));
}

}  // namespace tether::session::action
