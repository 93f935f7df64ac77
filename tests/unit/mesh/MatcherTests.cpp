// MatcherTests.cpp - header matchers: each kind takes what it says and nothing else, names compare without
// case, every value of a repeated header is tried, baggage members are found and decoded, and bad
// matchers are refused naming what is wrong.
#include <catch2/catch.hpp>

#include "protocol/mesh/Matcher.hpp"

using namespace tether::mesh;

namespace {

Matcher matcher(MatchKind kind, std::string name, std::string value) {
  std::string error;
  auto made = Matcher::make(kind, std::move(name), std::move(value), error);
  INFO(error);
  REQUIRE(made);
  return *made;
}

std::string refusal(MatchKind kind, std::string name, std::string value) {
  std::string error;
  CHECK_FALSE(Matcher::make(kind, std::move(name), std::move(value), error));
  return error;
}

}  // namespace

TEST_CASE("exact, prefix and regex matchers take what they say", "[mesh]") {
  const auto exact = matcher(MatchKind::Exact, "X-Dev", "alice");
  CHECK(exact.name() == "x-dev");
  CHECK(exact.matches({{"x-dev", "alice"}}));
  CHECK(exact.matches({{"X-DEV", " alice "}}));  // optional whitespace is not part of the value
  CHECK_FALSE(exact.matches({{"x-dev", "alice2"}}));
  CHECK_FALSE(exact.matches({{"x-dev", "Alice"}}));  // values compare exactly
  CHECK_FALSE(exact.matches({{"x-user", "alice"}}));
  CHECK_FALSE(exact.matches({}));
  // Every value of a repeated header is tried.
  CHECK(exact.matches({{"x-dev", "bob"}, {"x-dev", "alice"}}));

  const auto prefix = matcher(MatchKind::Prefix, "tenant", "team-a");
  CHECK(prefix.matches({{"tenant", "team-a"}}));
  CHECK(prefix.matches({{"tenant", "team-a-7"}}));
  CHECK_FALSE(prefix.matches({{"tenant", "team-b"}}));

  const auto regex = matcher(MatchKind::Regex, "x-dev", "al(ice|an)");
  CHECK(regex.matches({{"x-dev", "alice"}}));
  CHECK(regex.matches({{"x-dev", "alan"}}));
  CHECK_FALSE(regex.matches({{"x-dev", "malice"}}));  // the whole value, not a part of it
  // Linear time: a pathological pattern for backtracking engines answers at once on a long value.
  const auto nested = matcher(MatchKind::Regex, "x-dev", "(a+)+b");
  CHECK_FALSE(nested.matches({{"x-dev", std::string(60000, 'a')}}));
}

TEST_CASE("baggage matchers read one member of the W3C baggage header", "[mesh]") {
  const auto baggage = matcher(MatchKind::Baggage, "dev", "alice smith");
  CHECK(baggage.matches({{"baggage", "tenant=t1, dev=alice%20smith;ttl=30, x=y"}}));
  CHECK(baggage.matches({{"Baggage", "a=b"}, {"baggage", "dev = alice%20smith"}}));
  CHECK_FALSE(baggage.matches({{"baggage", "dev=alice"}}));
  CHECK_FALSE(baggage.matches({{"dev", "alice smith"}}));  // a header named like the key is not baggage
  CHECK(baggageMember("k=v%2", "k") == std::nullopt);      // a broken escape is no value
  CHECK(baggageMember("k", "k") == std::nullopt);
  CHECK(baggageMember(",,k=,", "k") == std::string());
  CHECK(baggage.describe() == "baggage:dev=alice smith");
}

TEST_CASE("matchers that cannot work are refused, naming what is wrong", "[mesh]") {
  CHECK(refusal(MatchKind::Exact, "x dev", "a").find("\"x dev\" is not a header name") != std::string::npos);
  CHECK(refusal(MatchKind::Exact, "", "a").find("is not a header name") != std::string::npos);
  CHECK(refusal(MatchKind::Exact, "x-dev", "").find("give the value") != std::string::npos);
  CHECK(refusal(MatchKind::Exact, "x-dev", "a\r\nb").find("printable text") != std::string::npos);
  CHECK(refusal(MatchKind::Regex, "x-dev", "al(ice").find("not a valid regular expression") !=
        std::string::npos);
  CHECK(refusal(MatchKind::Baggage, "bad key", "v").find("is not a baggage key") != std::string::npos);
  CHECK(matchKindFrom("prefix") == MatchKind::Prefix);
  CHECK_FALSE(matchKindFrom("glob"));
}
