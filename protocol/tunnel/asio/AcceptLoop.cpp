// AcceptLoop.cpp - accept, or pause after an error that retrying at once would only repeat.
#include "protocol/tunnel/asio/AcceptLoop.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace tether::tunnel {

namespace asio = boost::asio;

asio::awaitable<void> acceptLoop(asio::ip::tcp::acceptor& acceptor, std::string what, OnAccepted accepted,
                                 AcceptBackoff backoff) {
  constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
  std::chrono::milliseconds pause{0};
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kAwait);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // A peer that reset while waiting in the backlog is its own business; anything else (EMFILE, ENFILE,
      // ENOBUFS, ENOMEM) would fail again at once.
      if (ec == asio::error::connection_aborted) continue;
      pause = std::clamp(pause * 2, backoff.first, backoff.max);
      spdlog::warn("event=accept_failed what=\"{}\" error=\"{}\" retry_ms={}", what, ec.message(),
                   pause.count());
      asio::steady_timer timer(acceptor.get_executor(), pause);
      co_await timer.async_wait(kAwait);
      continue;
    }
    pause = std::chrono::milliseconds(0);
    accepted(std::move(socket));
  }
}

}  // namespace tether::tunnel
