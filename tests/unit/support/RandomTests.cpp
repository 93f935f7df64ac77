// RandomTests.cpp - kernel randomness as hex: the length and alphabet promised, and no repeats.
#include <catch2/catch.hpp>

#include <set>

#include "support/text/Random.hpp"

TEST_CASE("randomHex gives 2n lower-case hex digits and does not repeat", "[support]") {
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    const auto text = tether::support::randomHex(24);
    CHECK(text.size() == 48u);
    CHECK(text.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(text);
  }
  CHECK(seen.size() == 64u);
  CHECK(tether::support::randomBytes(0).empty());
  CHECK(tether::support::randomBytes(1000).size() == 1000u);
}
