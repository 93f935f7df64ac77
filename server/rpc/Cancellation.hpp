// Cancellation.hpp - a cooperative cancellation token for one request.
//
// `$/cancelRequest` fires the token; long-running work checks `isCancelled()` or registers a callback
// (which later becomes an Asio cancellation_signal emit). Cancellation is inherently racy: the work may
// finish anyway, and its late result is dropped because the request was already answered with -32800.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace tether::rpc {

class CancellationToken {
 public:
  CancellationToken() : state_(std::make_shared<State>()) {}

  bool isCancelled() const { return state_->cancelled.load(std::memory_order_acquire); }

  // Runs `callback` once on cancellation (at once, if already cancelled).
  void onCancel(std::function<void()> callback) const {
    std::unique_lock lock(state_->mutex);
    if (isCancelled()) {
      lock.unlock();
      callback();
      return;
    }
    state_->callbacks.push_back(std::move(callback));
  }

  void cancel() const {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(state_->mutex);
      if (state_->cancelled.exchange(true, std::memory_order_acq_rel)) return;
      callbacks.swap(state_->callbacks);
    }
    for (auto& callback : callbacks) callback();
  }

 private:
  struct State {
    std::atomic<bool> cancelled{false};
    std::mutex mutex;
    std::vector<std::function<void()>> callbacks;
  };
  std::shared_ptr<State> state_;
};

}  // namespace tether::rpc
