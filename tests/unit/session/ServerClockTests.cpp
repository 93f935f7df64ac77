// ServerClockTests.cpp - the server's time is read once and carried forward by the monotonic clock, read
// again when stale, and a failed read is reported (and tried again next time).
#include <catch2/catch.hpp>

#include "server/session/ServerClock.hpp"

using namespace tether;
using namespace std::chrono_literals;

TEST_CASE("the server's clock is read once, carried forward, and read again when stale", "[session][clock]") {
  const auto server = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  auto steady = std::chrono::steady_clock::time_point(1h);
  auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  int reads = 0;
  bool failing = false;
  session::ServerClock clock(
      [&]() -> kube::Result<std::chrono::system_clock::time_point> {
        ++reads;
        if (failing) {
          kube::ApiError error;
          error.message = "unreachable";
          return error;
        }
        return server + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                            steady - std::chrono::steady_clock::time_point(1h));
      },
      std::chrono::minutes(10), [&] { return steady; }, [&] { return wall; });

  failing = true;
  CHECK_FALSE(clock.now());  // nothing to carry forward yet
  failing = false;
  REQUIRE(clock.now().value() == server);
  CHECK(reads == 2);
  steady += 95s;
  wall += 95s;
  CHECK(clock.now().value() == server + 95s);  // carried forward, no request
  CHECK(reads == 2);
  steady += 10min;
  wall += 10min;
  CHECK(clock.now().value() == server + 95s + 10min);  // stale: read again
  CHECK(reads == 3);
  steady += 30s;
  wall += 30s + 1h;  // the machine slept an hour: the monotonic clock did not count it
  clock.now();
  CHECK(reads == 4);  // read again, not carried forward an hour behind
}
