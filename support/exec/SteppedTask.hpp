// SteppedTask.hpp - work that runs in steps on a ThreadPool and, between steps, holds no thread: each step
// says "finished" or "run me again by T"; the task then parks until wake() or until T (a timer on the
// given executor), whichever comes first. Two steps never run at once, and a wake() that arrives while a
// step runs is kept, so the next park returns at once instead of sleeping through it (no lost wake-ups).
//
// A session's driver is one: active, it parks until its next heartbeat, a stop or a tunnel event.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace tether::support {

class ThreadPool;

class SteppedTask {
 public:
  using Clock = std::chrono::steady_clock;
  struct Next {
    bool finished = false;
    Clock::time_point resumeBy{};
    static Next done() { return {true, {}}; }
    static Next parkUntil(Clock::time_point when) { return {false, when}; }
  };
  // Must not throw: catch what a step can throw and turn it into the task's own ending.
  using Step = std::function<Next()>;

  SteppedTask(ThreadPool& pool, boost::asio::any_io_executor timers, Step step);
  // Does not wait: call waitFinished() first when the step's captures are about to go.
  ~SteppedTask();
  SteppedTask(const SteppedTask&) = delete;
  SteppedTask& operator=(const SteppedTask&) = delete;

  void start();
  // Resumes a parked task now, or makes the next park return at once. Any thread.
  void wake();
  void waitFinished();
  bool finished() const;

 private:
  struct State;
  static void run(const std::shared_ptr<State>& state);
  static void wake(const std::shared_ptr<State>& state);
  std::shared_ptr<State> state_;
};

}  // namespace tether::support
