// ThreadPool.hpp - a pool that grows a thread only when every thread it has is busy, never past a bound,
// and lets a thread go after it has been idle for a while: many owners that are mostly waiting (parked
// sessions) cost no thread, and a burst of blocking work (fifty starts at once) is not queued behind a
// fixed handful.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace tether::support {

struct ThreadPoolConfig {
  std::size_t maxThreads = 64;                 // work beyond this many at once waits in the queue
  std::chrono::milliseconds idleExit{10'000};  // a thread idle this long ends
};

class ThreadPool {
 public:
  explicit ThreadPool(ThreadPoolConfig config = {});
  // join()s.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Tasks must not throw: an exception escaping one ends the process, as in a std::thread. Throws
  // std::system_error only when no thread can be started and the pool has none.
  void submit(std::function<void()> task);
  // Runs every task submitted (also while it waits) to its end, then joins the threads. The pool stays
  // usable: a later submit starts a thread that ends once the queue is empty.
  void join();

  std::size_t threads() const;
  // True once at most `count` threads are alive; false when the bound passed first.
  bool awaitThreadsAtMost(std::size_t count, std::chrono::milliseconds bound);

 private:
  void work(std::list<std::thread>::iterator self);
  void joinEnded();

  const ThreadPoolConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // a task queued, or the pool is ending
  std::condition_variable changed_;  // a thread ended
  std::deque<std::function<void()>> queue_;
  std::list<std::thread> threads_;  // alive ones
  std::vector<std::thread> ended_;  // returned from work(); joined by the next submit or the destructor
  std::size_t idle_ = 0;            // threads waiting for a task
  bool stopping_ = false;
};

}  // namespace tether::support
