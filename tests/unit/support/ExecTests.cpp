// ExecTests.cpp - the shared execution pieces: a counting executor counts queued and pending work and
// drops to zero once it has run; the thread pool never runs more than its bound at once, runs everything
// it was given, and lets idle threads go; IoThreads hands out its io_contexts in turn.
#include <catch2/catch.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "support/exec/CountingExecutor.hpp"
#include "support/exec/IoThreads.hpp"
#include "support/exec/OffThread.hpp"
#include "support/exec/SteppedTask.hpp"
#include "support/exec/ThreadPool.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using tether::support::IoThreads;
using tether::support::ThreadPool;
using tether::support::WorkCount;

TEST_CASE("a counting executor counts a pending timer until its handler has run", "[support][exec]") {
  IoThreads threads(1);
  auto count = std::make_shared<WorkCount>();
  const asio::any_io_executor executor = tether::support::countingExecutor(threads.next(), count);
  auto timer = std::make_shared<asio::steady_timer>(executor, 1h);
  std::promise<boost::system::error_code> fired;
  timer->async_wait([&fired](boost::system::error_code ec) { fired.set_value(ec); });
  CHECK(count->outstanding() > 0);
  CHECK_FALSE(count->waitIdle(1ms));  // the timer is an hour away: its wait is outstanding work

  asio::post(executor, [timer] { timer->cancel(); });
  CHECK(fired.get_future().get() == asio::error::operation_aborted);
  CHECK(count->waitIdle(10s));
  CHECK(count->outstanding() == 0);
  asio::post(executor, [timer]() mutable { timer.reset(); });  // the posted copy counts until it has run
  CHECK(count->waitIdle(10s));
}

TEST_CASE("a counting executor counts a coroutine while it is suspended", "[support][exec]") {
  IoThreads threads(2);
  auto count = std::make_shared<WorkCount>();
  const asio::any_io_executor executor = tether::support::countingExecutor(threads.next(), count);
  auto release = std::make_shared<asio::steady_timer>(executor, 1h);
  std::atomic<bool> resumed = false;
  asio::co_spawn(
      executor,
      [release, &resumed]() -> asio::awaitable<void> {
        boost::system::error_code ec;
        co_await release->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        resumed = true;
      },
      asio::detached);
  CHECK_FALSE(count->waitIdle(1ms));
  CHECK_FALSE(resumed);
  asio::post(executor, [release] { release->cancel(); });
  CHECK(count->waitIdle(10s));
  CHECK(resumed);
}

TEST_CASE("two counting executors on one io_context count apart", "[support][exec]") {
  IoThreads threads(1);
  auto& io = threads.next();
  auto mine = std::make_shared<WorkCount>();
  auto theirs = std::make_shared<WorkCount>();
  const asio::any_io_executor busy = tether::support::countingExecutor(io, theirs);
  auto timer = std::make_shared<asio::steady_timer>(busy, 1h);
  timer->async_wait([](boost::system::error_code) {});
  std::promise<void> ran;
  asio::post(asio::any_io_executor(tether::support::countingExecutor(io, mine)), [&ran] { ran.set_value(); });
  ran.get_future().get();
  CHECK(mine->waitIdle(10s));
  CHECK(theirs->outstanding() > 0);
  asio::post(busy, [timer] { timer->cancel(); });
  CHECK(theirs->waitIdle(10s));
}

TEST_CASE("IoThreads hands out its io_contexts in turn", "[support][exec]") {
  IoThreads threads(2);
  std::set<asio::io_context*> seen;
  for (int i = 0; i < 4; ++i) seen.insert(&threads.next());
  CHECK(seen.size() == 2u);
  CHECK(&threads.next() != &threads.next());
}

TEST_CASE("the thread pool runs at most its bound at once and everything it was given", "[support][exec]") {
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0;
  int peak = 0;
  int ran = 0;
  bool open = false;
  {
    ThreadPool pool({3, 10s});
    for (int i = 0; i < 10; ++i) {
      pool.submit([&] {
        std::unique_lock lock(mutex);
        peak = std::max(peak, ++running);
        changed.notify_all();
        changed.wait(lock, [&] { return open; });
        --running;
        ++ran;
      });
    }
    {
      std::unique_lock lock(mutex);
      REQUIRE(changed.wait_for(lock, 10s, [&] { return running == 3; }));
      CHECK(pool.threads() == 3u);
      open = true;
    }
    changed.notify_all();
  }  // the destructor runs what is still queued
  CHECK(ran == 10);
  CHECK(peak == 3);
}

TEST_CASE("the thread pool lets idle threads go", "[support][exec]") {
  ThreadPool pool({8, 1ms});
  std::promise<void> first;
  pool.submit([&] { first.set_value(); });
  first.get_future().get();
  REQUIRE(pool.awaitThreadsAtMost(0, 10s));
  CHECK(pool.threads() == 0u);
}

namespace {

using tether::support::SteppedTask;

// A SteppedTask whose steps are given by `script` (called with the step's number, from 0).
struct ScriptedTask {
  explicit ScriptedTask(std::function<SteppedTask::Next(int)> scriptIn, std::size_t poolThreads = 4)
      : pool({poolThreads, 10s}),
        count(std::make_shared<WorkCount>()),
        task(pool, tether::support::countingExecutor(io.next(), count),
             [this] {
               const bool overlapping = inStep.exchange(true);
               overlapped = overlapped || overlapping;
               auto next = script(steps++);
               inStep = false;
               return next;
             }),
        script(std::move(scriptIn)) {}
  ~ScriptedTask() {
    task.waitFinished();
    count->waitIdle(10s);
  }
  IoThreads io{1};
  ThreadPool pool;
  std::shared_ptr<WorkCount> count;
  SteppedTask task;
  std::function<SteppedTask::Next(int)> script;
  std::atomic<int> steps = 0;
  std::atomic<bool> inStep = false;
  std::atomic<bool> overlapped = false;
};

}  // namespace

TEST_CASE("a stepped task runs until its step says finished", "[support][exec]") {
  ScriptedTask scripted([](int step) {
    return step < 3 ? SteppedTask::Next::parkUntil(SteppedTask::Clock::now()) : SteppedTask::Next::done();
  });
  scripted.task.start();
  scripted.task.waitFinished();
  CHECK(scripted.steps == 4);
  CHECK(scripted.task.finished());
}

TEST_CASE("a parked stepped task resumes at its time", "[support][exec]") {
  // Parked until a moment already passed: only the timer can resume it (nobody calls wake()).
  const auto past = SteppedTask::Clock::now();
  ScriptedTask scripted([past](int step) {
    return step == 0 ? SteppedTask::Next::parkUntil(past) : SteppedTask::Next::done();
  });
  scripted.task.start();
  scripted.task.waitFinished();
  CHECK(scripted.steps == 2);
}

TEST_CASE("wake() resumes a stepped task parked far into the future", "[support][exec]") {
  std::promise<void> parked;
  ScriptedTask scripted([&parked](int step) {
    if (step == 0) {
      parked.set_value();
      return SteppedTask::Next::parkUntil(SteppedTask::Clock::now() + 1h);
    }
    return SteppedTask::Next::done();
  });
  scripted.task.start();
  parked.get_future().get();
  scripted.task.wake();
  scripted.task.waitFinished();
  CHECK(scripted.steps == 2);
}

TEST_CASE("a wake that arrives while a step runs is not lost", "[support][exec]") {
  SteppedTask* self = nullptr;
  ScriptedTask scripted([&self](int step) {
    if (step == 0) {
      self->wake();  // an event during the step: the park that follows must not sleep through it
      return SteppedTask::Next::parkUntil(SteppedTask::Clock::now() + 1h);
    }
    return SteppedTask::Next::done();
  });
  self = &scripted.task;
  scripted.task.start();
  scripted.task.waitFinished();
  CHECK(scripted.steps == 2);
}

TEST_CASE("steps of one task never overlap, however many threads wake it", "[support][exec]") {
  constexpr int kSteps = 2000;
  ScriptedTask scripted(
      [](int step) {
        return step < kSteps ? SteppedTask::Next::parkUntil(SteppedTask::Clock::now() + 1h)
                             : SteppedTask::Next::done();
      },
      8);
  scripted.task.start();
  std::vector<std::thread> wakers;
  for (int i = 0; i < 4; ++i) {
    wakers.emplace_back([&] {
      while (!scripted.task.finished()) scripted.task.wake();
    });
  }
  scripted.task.waitFinished();
  for (auto& waker : wakers) waker.join();
  CHECK(scripted.steps == kSteps + 1);
  CHECK_FALSE(scripted.overlapped);
}

TEST_CASE("offThread runs a blocking call on the pool and resumes the coroutine on its own thread",
          "[support][exec]") {
  IoThreads threads(1);
  ThreadPool pool({2, 10s});
  auto& io = threads.next();
  std::promise<std::tuple<std::thread::id, std::thread::id, std::thread::id, std::string>> seen;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto before = std::this_thread::get_id();
        const auto worker =
            co_await tether::support::offThread(pool, [] { return std::this_thread::get_id(); });
        const auto after = std::this_thread::get_id();
        std::string failure;
        try {
          co_await tether::support::offThread(pool,
                                              []() -> int { throw std::runtime_error("plugin failed"); });
        } catch (const std::runtime_error& error) {
          failure = error.what();
        }
        seen.set_value({before, worker, after, failure});
      },
      asio::detached);
  const auto [before, worker, after, failure] = seen.get_future().get();
  CHECK(before == after);   // resumed on the io_context's thread
  CHECK(worker != before);  // the call ran elsewhere
  CHECK(failure == "plugin failed");
}
