// RemediesTests.cpp - the command line is told which `tether` command or flag resolves a failure; an IDE
// is told in plain words, never a command line, and gets the reason to name its own fix.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>

#include "server/session/Remedies.hpp"

using namespace tether::session;

TEST_CASE("remedies name commands and flags for the command line only", "[session][remedies]") {
  CHECK(remedy::listServices(Audience::CommandLine, "demo") == "; `tether services -n demo` lists them");
  CHECK(remedy::cleanStale(Audience::CommandLine, "demo") == "run `tether clean -n demo`");
  CHECK(remedy::strategy(Audience::CommandLine, "scale") == "--strategy scale");
  CHECK(remedy::exposeProblem(Audience::CommandLine, "--expose x:80: bad") == "--expose x:80: bad");

  CHECK(remedy::listServices(Audience::Ide, "demo").empty());
  CHECK(remedy::listNamespaces(Audience::Ide).empty());
  CHECK(remedy::cleanStale(Audience::Ide, "demo") == "clean up stale sessions");
  CHECK(remedy::strategy(Audience::Ide, "scale") == "exchange.strategy \"scale\"");
  CHECK(remedy::exposeProblem(Audience::Ide, "--expose x:80: use --expose 1:80") ==
        "expose x:80: use expose 1:80");
  CHECK(remedy::recover(Audience::CommandLine, "orders") == "run `tether recover orders`");
  CHECK(remedy::outbound(Audience::CommandLine, "netns") == "--outbound netns");
  for (const auto& text :
       {remedy::cleaner(Audience::Ide), remedy::imageSetting(Audience::Ide),
        remedy::cleanStale(Audience::Ide, "demo"), remedy::recover(Audience::Ide, "orders"),
        remedy::outbound(Audience::Ide, "netns"), remedy::strategy(Audience::Ide, "scale")}) {
    CHECK(text.find("`tether") == std::string::npos);
    CHECK(text.find("--") == std::string::npos);
  }
}

namespace {

std::string protocolText() {
  std::ifstream in(std::string(TETHER_SOURCE_DIR) + "/protocol/PROTOCOL.md");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("every reason the backend sends is a row of PROTOCOL.md's table, with its field",
          "[session][remedies]") {
  const auto text = protocolText();
  REQUIRE(text.find("| reason | what resolves it | field |") != std::string::npos);
  for (auto reason = static_cast<int>(FailureReason::ServiceNotFound);
       reason <= static_cast<int>(kLastFailureReason); ++reason) {
    const auto value = static_cast<FailureReason>(reason);
    const std::string row = std::string("| `") + toString(value) + "` |";
    const auto at = text.find(row);
    CHECK(at != std::string::npos);
    if (at == std::string::npos) continue;
    const auto line = text.substr(at, text.find('\n', at) - at);
    if (const char* field = fieldOf(value)) CHECK_THAT(line, Catch::Contains(std::string("`") + field + "`"));
  }
}

TEST_CASE("every reason has its protocol name, and the ones about a field name it", "[session][remedies]") {
  CHECK(std::string(toString(FailureReason::ServiceNotFound)) == "service-not-found");
  CHECK(std::string(toString(FailureReason::NamespaceNotFound)) == "namespace-not-found");
  CHECK(std::string(toString(FailureReason::HeldByOwnSession)) == "held-by-own-session");
  CHECK(std::string(toString(FailureReason::HeldByOtherSession)) == "held-by-other-session");
  CHECK(std::string(toString(FailureReason::StrategyUnsuitable)) == "strategy-unsuitable");
  CHECK(std::string(toString(FailureReason::Forbidden)) == "forbidden");
  CHECK(std::string(fieldOf(FailureReason::NamespaceNotFound)) == "namespace");
  CHECK(std::string(fieldOf(FailureReason::StrategyUnsuitable)) == "exchange.strategy");
  CHECK(fieldOf(FailureReason::HeldByOtherSession) == nullptr);
}
