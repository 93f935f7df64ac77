// Splice.cpp - one copy loop per direction.
#include "server/tunnel/Splice.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> copyOneWay(tcp::socket& from, tcp::socket& to) {
  std::array<char, 64 * 1024> buffer{};
  boost::system::error_code ignored;
  for (;;) {
    auto [rec, n] = co_await from.async_read_some(asio::buffer(buffer), kAwait);
    if (rec == asio::error::eof) {
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (rec) break;
    auto [wec, written] = co_await asio::async_write(to, asio::buffer(buffer.data(), n), kAwait);
    if (wec) break;
  }
  from.close(ignored);
  to.close(ignored);
}

}  // namespace

asio::awaitable<void> splice(tcp::socket a, tcp::socket b) {
  co_await (copyOneWay(a, b) && copyOneWay(b, a));
}

}  // namespace tether::tunnelclient
