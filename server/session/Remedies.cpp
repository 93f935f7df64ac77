// Remedies.cpp - the two vocabularies of Remedies.hpp, side by side so they stay in step.
#include "server/session/Remedies.hpp"

namespace tether::session {

const char* toString(FailureReason reason) {
  switch (reason) {
    case FailureReason::None:
      return "";
    case FailureReason::ServiceNotFound:
      return "service-not-found";
    case FailureReason::NamespaceNotFound:
      return "namespace-not-found";
    case FailureReason::HeldByOwnSession:
      return "held-by-own-session";
    case FailureReason::HeldByOtherSession:
      return "held-by-other-session";
    case FailureReason::HeldByRunningSession:
      return "held-by-running-session";
    case FailureReason::InvalidExpose:
    case FailureReason::InvalidOutbound:
      return "invalid-field";
    case FailureReason::NeedsRecover:
      return "needs-recover";
    case FailureReason::StrategyUnsuitable:
      return "strategy-unsuitable";
    case FailureReason::Forbidden:
      return "forbidden";
  }
  return "";
}

const char* fieldOf(FailureReason reason) {
  switch (reason) {
    case FailureReason::ServiceNotFound:
      return "target";
    case FailureReason::NamespaceNotFound:
      return "namespace";
    case FailureReason::StrategyUnsuitable:
      return "exchange.strategy";
    case FailureReason::InvalidExpose:
      return "expose";
    case FailureReason::InvalidOutbound:
      return "outbound";
    default:
      return nullptr;
  }
}

namespace remedy {

namespace {

bool ide(Audience audience) {
  return audience == Audience::Ide;
}

}  // namespace

std::string listServices(Audience audience, const std::string& namespaceName) {
  return ide(audience) ? "" : "; `tether services -n " + namespaceName + "` lists them";
}

std::string listNamespaces(Audience audience) {
  return ide(audience) ? "" : "; `tether namespaces` lists them (or pass -n with the right one)";
}

std::string cleanStale(Audience audience, const std::string& namespaceName) {
  return ide(audience) ? "clean up stale sessions" : "run `tether clean -n " + namespaceName + "`";
}

std::string cleaner(Audience audience) {
  return ide(audience) ? "a clean-up of stale sessions" : "`tether clean`";
}

std::string strategy(Audience audience, const char* value) {
  return ide(audience) ? std::string("exchange.strategy \"") + value + "\""
                       : std::string("--strategy ") + value;
}

std::string imageSetting(Audience audience) {
  return ide(audience) ? "the image field, or TETHER_SHADOW_IMAGE where the backend runs"
                       : "--image, or TETHER_SHADOW_IMAGE";
}

std::string recover(Audience audience, const std::string& service) {
  return ide(audience) ? "recover " + service : "run `tether recover " + service + "`";
}

std::string outbound(Audience audience, const char* value) {
  return std::string(ide(audience) ? "outbound " : "--outbound ") + value;
}

std::string exposeProblem(Audience audience, const std::string& parserText) {
  if (!ide(audience)) return parserText;
  std::string text = parserText;
  const std::string flag = "--expose";
  for (auto at = text.find(flag); at != std::string::npos; at = text.find(flag, at))
    text.replace(at, flag.size(), "expose");
  return text;
}

}  // namespace remedy

}  // namespace tether::session
