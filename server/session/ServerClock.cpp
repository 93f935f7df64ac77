// ServerClock.cpp - one read, then the monotonic clock, checked against the wall clock.
#include "server/session/ServerClock.hpp"

namespace tether::session {

namespace {
// More disagreement than this between the two clocks about the time passed means a suspend (or a wall
// clock set by hand): read the server again.
constexpr std::chrono::seconds kClocksDisagree{5};
}  // namespace

ServerClock::ServerClock(Read read, std::chrono::minutes refreshAfter, Steady steady, Wall wall)
    : read_(std::move(read)),
      refreshAfter_(refreshAfter),
      steady_(std::move(steady)),
      wall_(std::move(wall)) {}

kube::Result<std::chrono::system_clock::time_point> ServerClock::now() {
  const auto steadyNow = steady_();
  const auto wallNow = wall_();
  const auto steadyPassed = std::chrono::duration_cast<std::chrono::milliseconds>(steadyNow - readAt_);
  const auto wallPassed = std::chrono::duration_cast<std::chrono::milliseconds>(wallNow - wallAt_);
  const bool slept =
      steadyPassed - wallPassed > kClocksDisagree || wallPassed - steadyPassed > kClocksDisagree;
  if (!serverAt_ || steadyNow - readAt_ >= refreshAfter_ || slept) {
    auto read = read_();
    if (!read) return read.error();
    serverAt_ = read.value();
    readAt_ = steadyNow;
    wallAt_ = wallNow;
    return read.value();
  }
  return *serverAt_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(steadyNow - readAt_);
}

}  // namespace tether::session
