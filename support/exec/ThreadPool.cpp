// ThreadPool.cpp - see ThreadPool.hpp.
#include "support/exec/ThreadPool.hpp"

#include <system_error>

namespace tether::support {

ThreadPool::ThreadPool(ThreadPoolConfig config) : config_(config) {}

ThreadPool::~ThreadPool() {
  join();
}

void ThreadPool::join() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // Threads drain the queue before they end; each moves itself to ended_, so wait for all to have.
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return threads_.empty(); });
  }
  joinEnded();
}

void ThreadPool::submit(std::function<void()> task) {
  joinEnded();
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(task));
  // Waiting threads take queued tasks first; a new thread only when more tasks wait than threads do.
  if (queue_.size() <= idle_) {
    wake_.notify_one();
    return;
  }
  if (threads_.size() >= config_.maxThreads) return;  // the queue waits for the next thread to free up
  threads_.emplace_back();
  const auto self = std::prev(threads_.end());
  try {
    *self = std::thread([this, self] { work(self); });
  } catch (const std::system_error&) {
    // No thread to be had (a pid limit): the task waits for a thread this pool already has; with none,
    // the caller learns it now rather than waiting for ever.
    threads_.erase(self);
    if (threads_.empty()) {
      queue_.pop_back();
      throw;
    }
  }
}

void ThreadPool::work(std::list<std::thread>::iterator self) {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    wake_.wait_for(lock, config_.idleExit, [&] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) break;  // idle for the whole pause, or the pool is ending with nothing left
    {
      auto task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
    }  // the task and what it captured are gone before the lock is taken again
    lock.lock();
  }
  ended_.push_back(std::move(*self));
  threads_.erase(self);
  changed_.notify_all();
}

void ThreadPool::joinEnded() {
  std::vector<std::thread> ended;
  {
    std::lock_guard lock(mutex_);
    ended.swap(ended_);
  }
  for (auto& thread : ended) thread.join();
}

std::size_t ThreadPool::threads() const {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

bool ThreadPool::awaitThreadsAtMost(std::size_t count, std::chrono::milliseconds bound) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, bound, [&] { return threads_.size() <= count; });
}

}  // namespace tether::support
