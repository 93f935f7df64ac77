// ServerClock.hpp - the API server's clock, as a session reads it for heartbeats: asked of the server once
// (its Date header), then carried forward by this machine's monotonic clock, and asked again after
// `refreshAfter`, or at once when the monotonic clock and the wall clock disagree about the time passed
// (the machine slept: the monotonic clock does not count a suspend, and a heartbeat carried forward by it
// would be written stale, for another machine's `tether clean` to take for a dead session). Heartbeats are
// compared with the server's own clock by `tether clean` on any machine, so they must be the server's
// time; but asking for it before every renewal doubled the requests an idle session makes.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "server/kube/Result.hpp"

namespace tether::session {

class ServerClock {
 public:
  using Read = std::function<kube::Result<std::chrono::system_clock::time_point>()>;
  using Steady = std::function<std::chrono::steady_clock::time_point()>;
  using Wall = std::function<std::chrono::system_clock::time_point()>;

  explicit ServerClock(
      Read read, std::chrono::minutes refreshAfter = std::chrono::minutes(10),
      Steady steady = [] { return std::chrono::steady_clock::now(); },
      Wall wall = [] { return std::chrono::system_clock::now(); });

  // The server's time now: read when never read, stale, or after a sleep; else carried forward.
  kube::Result<std::chrono::system_clock::time_point> now();

 private:
  Read read_;
  std::chrono::minutes refreshAfter_;
  Steady steady_;
  Wall wall_;
  std::optional<std::chrono::system_clock::time_point> serverAt_;
  std::chrono::steady_clock::time_point readAt_{};
  std::chrono::system_clock::time_point wallAt_{};
};

}  // namespace tether::session
