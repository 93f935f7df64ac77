// ServerClock.cpp - one read, then the monotonic clock.
#include "server/session/ServerClock.hpp"

namespace tether::session {

ServerClock::ServerClock(Read read, std::chrono::minutes refreshAfter, Steady steady)
    : read_(std::move(read)), refreshAfter_(refreshAfter), steady_(std::move(steady)) {}

kube::Result<std::chrono::system_clock::time_point> ServerClock::now() {
  const auto steadyNow = steady_();
  if (!serverAt_ || steadyNow - readAt_ >= refreshAfter_) {
    auto read = read_();
    if (!read) return read.error();
    serverAt_ = read.value();
    readAt_ = steadyNow;
    return read.value();
  }
  return *serverAt_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(steadyNow - readAt_);
}

}  // namespace tether::session
