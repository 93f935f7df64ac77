// Deadline.hpp - one timer per connection instead of one per read. Each phase of a connection (waiting for
// a head, an exchange making progress, a splice) moves the deadline with arm(). Moving it later costs an
// assignment, not a timer operation: watch() wakes at the old time, sees the new one and sleeps again.
// Moving it earlier (a 1 s close drain after a 120 s exchange bound) re-arms the timer, so a shorter bound
// is never stretched to a longer one. Run the connection's work as `co_await (work() || deadline.watch())`:
// when the deadline passes, watch() returns and the parallel group cancels the work.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace tether::shadow::router {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // Arm before the first watch(): an unarmed deadline has already passed.
  explicit Deadline(const boost::asio::any_io_executor& executor) : timer_(executor) {}

  void arm(std::chrono::milliseconds bound) {
    at_ = Clock::now() + bound;
    if (waiting_ && at_ < waitingUntil_) {
      shortened_ = true;
      timer_.expires_at(at_);  // aborts the pending wait; watch() waits again for the new time
    }
  }
  bool expired() const { return expired_; }

  boost::asio::awaitable<void> watch() {
    for (;;) {
      timer_.expires_at(at_);
      waitingUntil_ = at_;
      waiting_ = true;
      auto [ec] = co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      waiting_ = false;
      const auto state = co_await boost::asio::this_coro::cancellation_state;
      if (state.cancelled() != boost::asio::cancellation_type::none) co_return;  // the work ended first
      if (ec && shortened_) {
        shortened_ = false;
        continue;
      }
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
  Clock::time_point waitingUntil_{};
  bool waiting_ = false;
  bool shortened_ = false;
  bool expired_ = false;
};

}  // namespace tether::shadow::router
