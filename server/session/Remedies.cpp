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
  // No IDE offers recover as a command yet, so an IDE user is pointed to the command line on purpose.
  return ide(audience) ? "run `tether recover " + service + "` in a terminal"
                       : "run `tether recover " + service + "`";
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
