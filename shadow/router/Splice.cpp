// Splice.cpp - one direction at a time, both at once.
#include "shadow/router/Splice.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <vector>

namespace tether::shadow::router {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kSpliceBuffer = 64u * 1024u;

asio::awaitable<void> pipe(tcp::socket& from, std::string pending, tcp::socket& to, Deadline& deadline,
                           std::chrono::milliseconds idle) {
  boost::system::error_code ignored;
  if (!pending.empty()) {
    auto [ec, n] = co_await asio::async_write(to, asio::buffer(pending), kAwait);
    if (ec) {
      from.shutdown(tcp::socket::shutdown_receive, ignored);
      co_return;
    }
  }
  std::vector<char> buffer(kSpliceBuffer);
  for (;;) {
    auto [readError, n] = co_await from.async_read_some(asio::buffer(buffer), kAwait);
    if (readError) break;
    deadline.arm(idle);
    auto [writeError, written] = co_await asio::async_write(to, asio::buffer(buffer.data(), n), kAwait);
    if (writeError) {
      // The receiver is gone: stop reading from the sender too, so the other direction sees it.
      from.shutdown(tcp::socket::shutdown_receive, ignored);
      co_return;
    }
  }
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

asio::awaitable<void> splice(tcp::socket& a, std::string aToB, tcp::socket& b, std::string bToA,
                             Deadline& deadline, std::chrono::milliseconds idle) {
  deadline.arm(idle);
  co_await (pipe(a, std::move(aToB), b, deadline, idle) && pipe(b, std::move(bToA), a, deadline, idle));
}

}  // namespace tether::shadow::router
