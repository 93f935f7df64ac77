// SharedRead.hpp - reads through the router's one scratch buffer, so a connection holds only the bytes it
// has not handled yet, never a read buffer of its own: idle keep-alive connections and WebSockets cost
// little. One buffer for every connection is safe because the read happens in the coroutine, on the
// router's one thread, once the socket is readable (sockets are non-blocking), never inside the reactor
// while other reads are pending.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace tether::shadow::router {

// Waits until `socket` is readable and reads into `scratch`: the byte count (valid in `scratch` until the
// next suspension), 0 at EOF or on an error.
boost::asio::awaitable<std::size_t> readIntoScratch(boost::asio::ip::tcp::socket& socket,
                                                    std::vector<char>& scratch);
// The same, appended to `in`.
boost::asio::awaitable<std::size_t> readAvailable(boost::asio::ip::tcp::socket& socket, std::string& in,
                                                  std::vector<char>& scratch);

}  // namespace tether::shadow::router
