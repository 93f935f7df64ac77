// ModeFactoryTests.cpp - a front end's request checked once for its mode: each mode's fields, and errors that
// name the JSON field for IDE callers and the flag for CLI users.
#include <catch2/catch.hpp>

#include "server/core/ModeFactory.hpp"

using namespace tether;
using core::Caller;

namespace {

core::SessionRequest request(std::string mode, std::string target, std::vector<std::string> expose,
                             Caller caller = Caller::Ide) {
  core::SessionRequest r;
  r.caller = caller;
  r.mode = std::move(mode);
  r.service = std::move(target);
  r.expose = std::move(expose);
  return r;
}

std::string failure(const core::SessionRequest& r) {
  try {
    core::specFor(r);
  } catch (const core::Error& error) {
    CHECK(error.category() == core::ErrorCategory::User);
    return std::string(error.what()) + " | " + error.hint();
  }
  FAIL("no error for mode " << r.mode);
  return {};
}

}  // namespace

TEST_CASE("each mode gets its typed spec", "[core][modes]") {
  auto exchange = request("exchange", "orders", {"12001:http"});
  exchange.strategy = "scale";
  const auto spec = core::specFor(exchange);
  CHECK(spec.mode == session::Mode::Exchange);
  CHECK(spec.strategy == session::Strategy::Scale);
  REQUIRE(spec.expose.size() == 1);
  CHECK(spec.expose[0].local == 12001);
  CHECK(spec.expose[0].remote == "http");

  CHECK(core::specFor(request("connect", "", {})).mode == session::Mode::Connect);
  auto preview = request("preview", "orders-v2", {"12001:80"});
  preview.serviceType = "LoadBalancer";
  CHECK(core::specFor(preview).serviceType == "LoadBalancer");
  CHECK(core::specFor(request("forward", "orders", {"18080:80", "18081"})).expose.size() == 2);
}

TEST_CASE("errors name the JSON field for the IDE and the flag for the CLI", "[core][modes]") {
  CHECK(failure(request("mesh-ish", "orders", {"1"})) ==
        "unknown mode \"mesh-ish\" | use exchange, connect, preview, forward or mesh (mode)");
  CHECK(failure(request("exchange", "", {"1"})) ==
        "no Service named for exchange | name the Service in target");
  CHECK(failure(request("exchange", "", {"1"}, Caller::Cli)) ==
        "no Service named for exchange | name the Service in SERVICE");
  const auto ide = failure(request("forward", "orders", {"x:80"}));
  CHECK(ide.find("expose x:80") != std::string::npos);
  CHECK(ide.find("--expose") == std::string::npos);
  CHECK(failure(request("forward", "orders", {"x:80"}, Caller::Cli)).find("--expose x:80") !=
        std::string::npos);
  CHECK(failure(request("connect", "orders", {})).find("connect takes no Service (target was \"orders\")") ==
        0);
  CHECK(failure(request("connect", "", {"1"})).find("connect exposes no ports (expose was given)") == 0);
  CHECK(failure(request("preview", "Orders_V2", {"1"})).find("is not a valid Service name") !=
        std::string::npos);
  auto typed = request("preview", "v2", {"1"});
  typed.serviceType = "Headless";
  CHECK(failure(typed) ==
        "unknown Service type \"Headless\" (preview.type) | use ClusterIP (the default), "
        "NodePort or LoadBalancer");
  auto strategy = request("exchange", "orders", {"1"}, Caller::Cli);
  strategy.strategy = "swap";
  CHECK(failure(strategy).find("(--strategy)") != std::string::npos);
}

TEST_CASE("mesh: matchers are checked once, named by flag or field; none gets a generated header",
          "[core][modes]") {
  auto mesh = request("mesh", "orders", {"12001:8080"}, Caller::Cli);
  mesh.matchers = {{"exact", "X-Dev", "alice"}, {"baggage", "user", "alice"}};
  const auto spec = core::specFor(mesh);
  CHECK(spec.mode == session::Mode::Mesh);
  REQUIRE(spec.matchers.size() == 2);
  CHECK(spec.matchers[0].describe() == "x-dev=alice");
  CHECK(spec.matchers[1].describe() == "baggage:user=alice");

  auto generated = request("mesh", "orders", {"12001:8080"});
  const auto first = core::specFor(generated);
  REQUIRE(first.matchers.size() == 1);
  CHECK(first.matchers[0].name() == "x-dev");
  CHECK(first.matchers[0].value().rfind("tether-", 0) == 0);
  CHECK(core::specFor(generated).matchers[0].value() != first.matchers[0].value());  // one per session

  auto badName = request("mesh", "orders", {"12001:8080"}, Caller::Cli);
  badName.matchers = {{"exact", "x dev", "alice"}};
  CHECK(failure(badName).find("(--header)") != std::string::npos);
  auto badRegex = request("mesh", "orders", {"12001:8080"});
  badRegex.matchers = {{"regex", "x-dev", "al(ice"}};
  CHECK(failure(badRegex).find("(mesh.matchers[].kind)") != std::string::npos);
  auto twice = request("mesh", "orders", {"12001:8080"});
  twice.matchers = {{"exact", "x-dev", "a"}, {"exact", "X-DEV", "a"}};
  CHECK(failure(twice) ==
        "the matcher x-dev=a is given twice | give each condition once; all of them must match");
  auto kind = request("mesh", "orders", {"12001:8080"});
  kind.matchers = {{"fuzzy", "x-dev", "a"}};
  CHECK(failure(kind).rfind("unknown matcher kind \"fuzzy\"", 0) == 0);
  auto onExchange = request("exchange", "orders", {"12001:8080"}, Caller::Cli);
  onExchange.matchers = {{"exact", "x-dev", "a"}};
  CHECK(failure(onExchange).find("`tether mesh`") != std::string::npos);
}

TEST_CASE("outbound: proxy by default, netns on request, anything else named by field or flag",
          "[core][modes][netns]") {
  CHECK(core::specFor(request("connect", "", {})).outbound == session::Outbound::Proxy);
  auto netns = request("exchange", "orders", {"12001:80"});
  netns.outbound = "netns";
  CHECK(core::specFor(netns).outbound == session::Outbound::Netns);

  auto bad = request("connect", "", {});
  bad.outbound = "tun";
  CHECK(failure(bad).find("unknown outbound \"tun\" (outbound) | use proxy") == 0);
  bad.caller = Caller::Cli;
  CHECK(failure(bad).find("unknown outbound \"tun\" (--outbound)") == 0);
}

TEST_CASE("a bad field is named in the error's detail, for an IDE to point at", "[core][modes]") {
  const auto detailOf = [](const core::SessionRequest& r) {
    try {
      core::specFor(r);
    } catch (const core::Error& error) {
      return error.detail().reason + " " + error.detail().field;
    }
    return std::string("no error");
  };
  CHECK(detailOf(request("forward", "orders", {"x:80"})) == "invalid-field expose");
  CHECK(detailOf(request("exchange", "", {"1"})) == "invalid-field target");
  CHECK(detailOf(request("mesh-ish", "orders", {"1"})) == "invalid-field mode");
  auto strategy = request("exchange", "orders", {"1"});
  strategy.strategy = "swap";
  CHECK(detailOf(strategy) == "invalid-field exchange.strategy");
  CHECK(core::specFor(request("exchange", "orders", {"1"})).audience == session::Audience::Ide);
  CHECK(core::specFor(request("exchange", "orders", {"1"}, Caller::Cli)).audience ==
        session::Audience::CommandLine);
}
