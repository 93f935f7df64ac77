// SteppedTask.cpp - see SteppedTask.hpp. Handlers and pool tasks hold the shared State, never the
// SteppedTask, so a timer that fires after the owner is gone finds the task finished and does nothing.
#include "support/exec/SteppedTask.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <condition_variable>
#include <mutex>

#include "support/exec/ThreadPool.hpp"

namespace tether::support {

struct SteppedTask::State {
  State(ThreadPool& poolIn, boost::asio::any_io_executor timers, Step stepIn)
      : pool(poolIn), timer(std::move(timers)), step(std::move(stepIn)) {}
  ThreadPool& pool;
  boost::asio::steady_timer timer;  // on its executor's thread only
  Step step;
  mutable std::mutex mutex;
  std::condition_variable ended;
  bool parked = false;
  bool wakePending = false;
  bool finished = false;
};

SteppedTask::SteppedTask(ThreadPool& pool, boost::asio::any_io_executor timers, Step step)
    : state_(std::make_shared<State>(pool, std::move(timers), std::move(step))) {}

SteppedTask::~SteppedTask() {
  // A pending timer holds the State; cancel it so the State goes with its handler.
  boost::asio::post(state_->timer.get_executor(), [state = state_] { state->timer.cancel(); });
}

void SteppedTask::start() {
  state_->pool.submit([state = state_] { run(state); });
}

void SteppedTask::run(const std::shared_ptr<State>& state) {
  for (;;) {
    const Next next = state->step();
    std::lock_guard lock(state->mutex);
    if (next.finished) {
      state->finished = true;
      boost::asio::post(state->timer.get_executor(), [state] { state->timer.cancel(); });
      state->ended.notify_all();
      return;
    }
    if (state->wakePending) {
      state->wakePending = false;
      continue;  // something happened while the step ran: step again before sleeping
    }
    state->parked = true;
    // Armed under the lock, so arms reach the timer's thread in the order they were made.
    boost::asio::post(state->timer.get_executor(), [state, when = next.resumeBy] {
      state->timer.expires_at(when);  // cancels the previous arm
      state->timer.async_wait([state](boost::system::error_code error) {
        if (!error) wake(state);
      });
    });
    return;
  }
}

void SteppedTask::wake() {
  wake(state_);
}

void SteppedTask::wake(const std::shared_ptr<State>& state) {
  {
    std::lock_guard lock(state->mutex);
    if (state->finished) return;
    if (!state->parked) {
      state->wakePending = true;
      return;
    }
    state->parked = false;
  }
  state->pool.submit([state] { run(state); });
}

void SteppedTask::waitFinished() {
  std::unique_lock lock(state_->mutex);
  state_->ended.wait(lock, [&] { return state_->finished; });
}

bool SteppedTask::finished() const {
  std::lock_guard lock(state_->mutex);
  return state_->finished;
}

}  // namespace tether::support
