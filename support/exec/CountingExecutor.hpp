// CountingExecutor.hpp - an Asio executor that runs on a shared io_context but counts its owner's work:
// every queued function and every pending operation whose handler uses it (Asio tracks those through the
// outstanding_work property) holds one count in a WorkCount until it has run or been destroyed.
//
// Why: a session used to own an io_context and knew it was done when run() returned. On a shared
// io_context run() never returns, so the session waits for its own WorkCount to reach zero instead: the
// same guarantee (no handler of the session's can still run) without a thread per session.
//
// Include this only in .cpp files and module-internal headers: it pulls in Asio's executor machinery.
#pragma once

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "support/exec/WorkCount.hpp"

namespace tether::support {

template <typename Inner>
class CountingExecutor {
 public:
  CountingExecutor(Inner inner, std::shared_ptr<WorkCount> count, bool tracked = false) noexcept
      : inner_(std::move(inner)), count_(std::move(count)), tracked_(tracked) {
    if (tracked_) count_->add();
  }
  CountingExecutor(const CountingExecutor& other) noexcept
      : inner_(other.inner_), count_(other.count_), tracked_(other.tracked_) {
    if (tracked_) count_->add();
  }
  CountingExecutor(CountingExecutor&& other) noexcept
      : inner_(std::move(other.inner_)),
        count_(other.count_),
        tracked_(std::exchange(other.tracked_, false)) {}
  CountingExecutor& operator=(const CountingExecutor& other) noexcept {
    if (this != &other) {
      CountingExecutor copy(other);
      swap(copy);
    }
    return *this;
  }
  CountingExecutor& operator=(CountingExecutor&& other) noexcept {
    if (this != &other) {
      CountingExecutor moved(std::move(other));
      swap(moved);
    }
    return *this;
  }
  ~CountingExecutor() {
    if (tracked_) count_->remove();
  }

  // Queued work counts until it has run (or is destroyed unrun with the io_context).
  template <typename Function>
  void execute(Function&& function) const {
    inner_.execute(Counted<std::decay_t<Function>>{std::forward<Function>(function), count_});
  }

  boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept {
    return boost::asio::query(inner_, boost::asio::execution::context);
  }
  boost::asio::execution::outstanding_work_t query(
      boost::asio::execution::outstanding_work_t) const noexcept {
    if (tracked_) return boost::asio::execution::outstanding_work.tracked;
    return boost::asio::execution::outstanding_work.untracked;
  }
  template <typename Property, typename = std::enable_if_t<
                                   !std::is_same_v<Property, boost::asio::execution::context_t> &&
                                   !std::is_same_v<Property, boost::asio::execution::outstanding_work_t>>>
  auto query(const Property& property) const noexcept
      -> decltype(boost::asio::query(std::declval<const Inner&>(), property)) {
    return boost::asio::query(inner_, property);
  }

  CountingExecutor require(boost::asio::execution::outstanding_work_t::tracked_t) const noexcept {
    return CountingExecutor(inner_, count_, true);
  }
  CountingExecutor require(boost::asio::execution::outstanding_work_t::untracked_t) const noexcept {
    return CountingExecutor(inner_, count_, false);
  }
  template <typename Property,
            typename = std::enable_if_t<
                !std::is_same_v<Property, boost::asio::execution::outstanding_work_t::tracked_t> &&
                !std::is_same_v<Property, boost::asio::execution::outstanding_work_t::untracked_t>>>
  auto require(const Property& property) const noexcept -> CountingExecutor<
      std::decay_t<decltype(boost::asio::require(std::declval<const Inner&>(), property))>> {
    return {boost::asio::require(inner_, property), count_, tracked_};
  }

  friend bool operator==(const CountingExecutor& a, const CountingExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.count_ == b.count_;
  }
  friend bool operator!=(const CountingExecutor& a, const CountingExecutor& b) noexcept { return !(a == b); }

  bool tracked() const noexcept { return tracked_; }

 private:
  template <typename>
  friend class CountingExecutor;

  template <typename Function>
  struct Counted {
    Counted(Function f, std::shared_ptr<WorkCount> c)
        : function(std::in_place, std::move(f)), count(std::move(c)) {
      count->add();
    }
    Counted(Counted&& other) noexcept : function(std::move(other.function)), count(std::move(other.count)) {}
    Counted(const Counted&) = delete;
    Counted& operator=(const Counted&) = delete;
    Counted& operator=(Counted&&) = delete;
    ~Counted() {
      function.reset();
      if (count) count->remove();
    }
    void operator()() {
      // Whatever the function does, it and its captures are destroyed before the count is released: the
      // owner may be freed as soon as it is.
      struct Finish {
        Counted& self;
        ~Finish() {
          self.function.reset();
          if (self.count) self.count->remove();
          self.count.reset();
        }
      } finish{*this};
      (*function)();
    }
    std::optional<Function> function;
    std::shared_ptr<WorkCount> count;
  };

  void swap(CountingExecutor& other) noexcept {
    std::swap(inner_, other.inner_);
    std::swap(count_, other.count_);
    std::swap(tracked_, other.tracked_);
  }

  Inner inner_;
  std::shared_ptr<WorkCount> count_;
  bool tracked_ = false;
};

// An executor on `io` whose work counts in `count`.
inline CountingExecutor<boost::asio::io_context::executor_type> countingExecutor(
    boost::asio::io_context& io, std::shared_ptr<WorkCount> count) {
  return {io.get_executor(), std::move(count)};
}

}  // namespace tether::support
