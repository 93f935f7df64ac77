// Spawn.hpp - the coroutine boundary: every detached coroutine of the tunnel binaries starts here, so an
// unexpected exception is caught and logged with what was running, instead of ending the process.
#pragma once

#include <spdlog/spdlog.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>

#include <exception>
#include <string>

namespace tether::tunnel {

template <typename Executor>
void spawnLogged(const Executor& executor, boost::asio::awaitable<void> work, std::string what) {
  boost::asio::co_spawn(executor, std::move(work), [what = std::move(what)](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("event=coroutine_failed task=\"{}\" error=\"{}\"", what, e.what());
    }
  });
}

}  // namespace tether::tunnel
