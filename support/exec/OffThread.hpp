// OffThread.hpp - run a blocking call from a coroutine without blocking its I/O thread: the call runs on a
// ThreadPool and the coroutine resumes on its own executor with the result (or the exception).
//
// Why: sessions share a few I/O threads, so a blocking call made on one (a credential plugin, a small
// GET) would stall every session on that thread. Include only in .cpp files.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "support/exec/ThreadPool.hpp"

namespace tether::support {

// `work` must return a value (not void) that can be default-constructed.
template <typename Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> offThread(ThreadPool& pool, Work work) {
  using Result = std::invoke_result_t<Work&>;
  auto token = boost::asio::as_tuple(boost::asio::use_awaitable);
  auto [error, result] =
      co_await boost::asio::async_initiate<decltype(token), void(std::exception_ptr, Result)>(
          [&pool](auto handler, Work job) {
            // The handler and its executor's work guard travel together; ThreadPool takes copyable tasks.
            auto executor = boost::asio::get_associated_executor(handler);
            using Handler = decltype(handler);
            struct Pending {
              Handler handler;
              boost::asio::executor_work_guard<decltype(executor)> guard;
              Work job;
            };
            auto pending = std::make_shared<Pending>(
                Pending{std::move(handler), boost::asio::make_work_guard(executor), std::move(job)});
            pool.submit([pending] {
              std::exception_ptr failure;
              Result value{};
              try {
                value = pending->job();
              } catch (...) {
                failure = std::current_exception();
              }
              auto resumeOn = pending->guard.get_executor();
              boost::asio::dispatch(resumeOn, [pending, failure, value = std::move(value)]() mutable {
                std::move(pending->handler)(failure, std::move(value));
              });
            });
          },
          token, std::move(work));
  if (error) std::rethrow_exception(error);
  co_return std::move(result);
}

}  // namespace tether::support
