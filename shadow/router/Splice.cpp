// Splice.cpp - one direction at a time, both at once.
#include "shadow/router/Splice.hpp"

#include "shadow/router/SharedRead.hpp"

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

asio::awaitable<void> pipe(tcp::socket& from, std::string pending, tcp::socket& to, Deadline& deadline,
                           std::chrono::milliseconds idle, std::vector<char>& scratch) {
  boost::system::error_code ignored;
  if (!pending.empty()) {
    auto [ec, n] = co_await asio::async_write(to, asio::buffer(pending), kAwait);
    if (ec) {
      from.shutdown(tcp::socket::shutdown_receive, ignored);
      co_return;
    }
  }
  for (;;) {
    // Keep only what was read, while it is written: the shared buffer is another's at the next suspension.
    const std::size_t n = co_await readIntoScratch(from, scratch);
    if (n == 0) break;
    deadline.arm(idle);
    const std::string chunk(scratch.data(), n);
    auto [writeError, written] = co_await asio::async_write(to, asio::buffer(chunk), kAwait);
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
                             Deadline& deadline, std::chrono::milliseconds idle, std::vector<char>& scratch) {
  deadline.arm(idle);
  co_await (pipe(a, std::move(aToB), b, deadline, idle, scratch) &&
            pipe(b, std::move(bToA), a, deadline, idle, scratch));
}

}  // namespace tether::shadow::router
