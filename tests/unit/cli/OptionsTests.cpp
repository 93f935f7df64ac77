// OptionsTests.cpp - command-line parsing and its error wording.
#include <catch2/catch.hpp>

#include "server/cli/Options.hpp"

using namespace tether::cli;

namespace {
Options ok(std::vector<std::string> args) {
  auto parsed = parseOptions(args);
  REQUIRE(std::holds_alternative<Options>(parsed));
  return std::get<Options>(parsed);
}
std::string error(std::vector<std::string> args) {
  auto parsed = parseOptions(args);
  REQUIRE(std::holds_alternative<UsageError>(parsed));
  return std::get<UsageError>(parsed).message;
}
}  // namespace

TEST_CASE("serve --stdio with its flags", "[cli]") {
  const auto options = ok({"serve", "--stdio", "--log-level", "debug", "--log-file=/tmp/x.log",
                           "--input-style=delimited", "--pretty"});
  CHECK(options.command == Command::Serve);
  CHECK(options.stdio);
  CHECK(options.logLevel == "debug");
  CHECK(options.logFile == "/tmp/x.log");
  CHECK(options.delimitedInput);
  CHECK(options.pretty);
}

TEST_CASE("version, help and no arguments", "[cli]") {
  CHECK(ok({"--version"}).command == Command::Version);
  CHECK(ok({"serve", "--help"}).command == Command::Help);
  CHECK(ok({}).command == Command::Help);
}

TEST_CASE("bad arguments name what is wrong and what to do", "[cli]") {
  CHECK(error({"serve"}) == "`tether serve` needs --stdio (the only transport): tether serve --stdio");
  CHECK(error({"frobnicate"}) == "unknown command \"frobnicate\"; see `tether --help`");
  CHECK(error({"serve", "--stdio", "--bogus"}) ==
        "unknown flag --bogus for `tether serve`; see `tether --help`");
  CHECK(error({"--log-level", "loud"}) ==
        "--log-level: unknown level \"loud\"; use trace, debug, info, warn, error or off");
  CHECK(error({"serve", "--stdio", "--log-file"}) == "--log-file needs a value");
  CHECK(error({"serve", "--stdio", "--input-style=xml"}) ==
        "--input-style: unknown style \"xml\"; use standard or delimited");
}
