// ActionOutcome.hpp - how the exchange actions (ExchangeActions.cpp, ExchangeTunnelActions.cpp) report.
// Internal to server/session: the two files build Outcomes the same way, from one place.
#pragma once

#include <string>
#include <utility>

#include "server/kube/ApiError.hpp"
#include "server/session/ExchangeMachine.hpp"

namespace tether::session::action {

inline Outcome done() {
  return Outcome{OutcomeKind::Done, {}};
}

inline Outcome failed(std::string message) {
  return Outcome{OutcomeKind::Failed, std::move(message)};
}

// A kube error as an outcome: Conflict is retried by the machine, anything else fails with context.
inline Outcome fromError(const kube::ApiError& error, const std::string& what) {
  if (error.reason == kube::ApiReason::Conflict) return Outcome{OutcomeKind::Conflict, error.message};
  std::string hint;
  if (error.reason == kube::ApiReason::Forbidden) hint = "; ask a cluster admin for this permission";
  if (error.reason == kube::ApiReason::Transport) hint = "; check the network or VPN to the cluster";
  return failed(what + ": " + error.message + hint);
}

}  // namespace tether::session::action
