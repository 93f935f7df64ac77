// ObjectsTests.cpp - the pure helpers behind session writes: timestamps and selectors.
#include <catch2/catch.hpp>

#include "server/kube/Objects.hpp"

using namespace tether::kube;

TEST_CASE("RFC 3339 timestamps round-trip in UTC", "[kube][objects]") {
  const auto parsed = parseTimestamp("2026-11-27T14:46:38Z");
  REQUIRE(parsed);
  CHECK(formatTimestamp(*parsed) == "2026-11-27T14:46:38Z");
  CHECK(std::chrono::duration_cast<std::chrono::seconds>(*parsed - *parseTimestamp("2026-11-27T14:44:38Z"))
            .count() == 120);
  CHECK_FALSE(parseTimestamp("yesterday"));
  CHECK_FALSE(parseTimestamp(""));
}

TEST_CASE("selectors are written and read as kubectl writes them", "[kube][objects]") {
  const std::map<std::string, std::string> selector{{"app", "orders"}, {"tier", "web"}};
  CHECK(selectorString(selector) == "app=orders,tier=web");
  CHECK(parseSelector("app=orders,tier=web") == selector);
  CHECK(parseSelector("app.kubernetes.io/name=orders,empty=") ==
        std::map<std::string, std::string>{{"app.kubernetes.io/name", "orders"}, {"empty", ""}});
}

TEST_CASE("a saved selector that is not exactly a selector is refused, not read loosely", "[kube][objects]") {
  // An annotation anyone with patch rights can write: an empty or garbled one must not read as {} (which
  // written back would remove the Service's whole selector).
  for (const char* bad : {"", "app", "noequals,app=x", "app=x,", ",app=x", "app=x,app=y", "-app=x", "app=x y",
                          "app="
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                          "Bad/app=x", "/app=x", "app=x=y"}) {
    INFO(bad);
    CHECK_FALSE(parseSelector(bad));
  }
}
