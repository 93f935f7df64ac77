// Deadline.hpp - one timer per connection instead of one per read. Each phase of a connection (waiting for
// a head, an exchange making progress, a splice) moves the deadline with arm(); moving it costs an
// assignment, not a timer operation: watch() wakes at the old time, sees the new one and sleeps again.
// Run the connection's work as `co_await (work() || deadline.watch())`: when the deadline passes, watch()
// returns and the parallel group cancels the work.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace tether::shadow::router {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // Arm before the first watch(): an unarmed deadline has already passed.
  explicit Deadline(const boost::asio::any_io_executor& executor) : timer_(executor) {}

  void arm(std::chrono::milliseconds bound) { at_ = Clock::now() + bound; }
  bool expired() const { return expired_; }

  boost::asio::awaitable<void> watch() {
    for (;;) {
      timer_.expires_at(at_);
      auto [ec] = co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;  // cancelled: the work ended first
      if (Clock::now() >= at_) {
        expired_ = true;
        co_return;
      }
    }
  }

 private:
  boost::asio::steady_timer timer_;
  Clock::time_point at_ = Clock::now();
  bool expired_ = false;
};

}  // namespace tether::shadow::router
