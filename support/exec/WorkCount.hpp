// WorkCount.hpp - how much work one owner (a session) still has on a shared executor, and a bounded wait
// for it to reach zero, so the owner is freed only once no handler of its own can run any more.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace tether::support {

class WorkCount {
 public:
  void add() noexcept { count_.fetch_add(1, std::memory_order_relaxed); }

  void remove() noexcept {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Taking the lock orders this notification after a waiter's check of the count: none is lost.
      std::lock_guard lock(mutex_);
      idle_.notify_all();
    }
  }

  std::size_t outstanding() const noexcept { return count_.load(std::memory_order_acquire); }

  // True once nothing is outstanding; false when the bound passed first.
  bool waitIdle(std::chrono::milliseconds bound) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, bound, [&] { return outstanding() == 0; });
  }

 private:
  std::atomic<std::size_t> count_{0};
  std::mutex mutex_;
  std::condition_variable idle_;
};

}  // namespace tether::support
