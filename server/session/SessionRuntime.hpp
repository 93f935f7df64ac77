// SessionRuntime.hpp - the threads every session of one backend shares: a few I/O threads (tunnels,
// proxies, watches, timers) and a bounded pool that runs each session's driver only while it has work.
// A parked session (active, waiting for its next heartbeat or an event) holds no thread at all.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

namespace tether::support {
class IoThreads;
class ThreadPool;
}  // namespace tether::support

namespace tether::session {

struct RuntimeConfig {
  std::size_t ioThreads = 2;  // single-threaded io_contexts; sessions are spread over them in turn
  // Drivers run blocking steps (API calls, bounded waits); more starts than this at once wait their turn.
  std::size_t maxDriverThreads = 64;
  std::chrono::milliseconds driverIdleExit{std::chrono::seconds(10)};  // an idle driver thread ends
};

class SessionRuntime {
 public:
  explicit SessionRuntime(RuntimeConfig config = {});
  // Sessions hold the runtime they run on; it ends after the last of them.
  ~SessionRuntime();
  SessionRuntime(const SessionRuntime&) = delete;
  SessionRuntime& operator=(const SessionRuntime&) = delete;

  support::IoThreads& io() { return *io_; }
  support::ThreadPool& drivers() { return *drivers_; }

 private:
  std::unique_ptr<support::IoThreads> io_;  // destroyed last: drivers may still post to it
  std::unique_ptr<support::ThreadPool> drivers_;
};

}  // namespace tether::session
