// Splice.hpp - two sockets joined both ways until both directions end, for a WebSocket after its 101, a
// TLS connection and raw TCP. Bytes one side already sent before the splice (the sniffed bytes, frames
// that came with the upgrade) are written first, so nothing is lost or reordered. An EOF in one direction
// is passed on as a half-close; the other direction goes on.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "shadow/router/Deadline.hpp"

namespace tether::shadow::router {

// `aToB` is written to `b` and `bToA` to `a` before anything else. Every byte moved re-arms `deadline` for
// `idle`. Both sockets must be non-blocking: reads go through the router's shared `scratch` buffer and only
// bytes in flight are held per direction, so an idle WebSocket costs no buffer.
boost::asio::awaitable<void> splice(boost::asio::ip::tcp::socket& a, std::string aToB,
                                    boost::asio::ip::tcp::socket& b, std::string bToA, Deadline& deadline,
                                    std::chrono::milliseconds idle, std::vector<char>& scratch);

}  // namespace tether::shadow::router
