// SharedRead.cpp - wait for readability, then a non-blocking read.
#include "shadow/router/SharedRead.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tether::shadow::router {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

asio::awaitable<std::size_t> readIntoScratch(tcp::socket& socket, std::vector<char>& scratch) {
  for (;;) {
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(scratch), ec);
    if (!ec) co_return n;
    if (ec != asio::error::would_block && ec != asio::error::try_again) co_return 0;
    auto [waitError] =
        co_await socket.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
    if (waitError) co_return 0;
  }
}

asio::awaitable<std::size_t> readAvailable(tcp::socket& socket, std::string& in, std::vector<char>& scratch) {
  const std::size_t n = co_await readIntoScratch(socket, scratch);
  in.append(scratch.data(), n);
  co_return n;
}

}  // namespace tether::shadow::router
