// Splice.hpp - two TCP sockets joined both ways until both directions end. An orderly end of one direction
// is passed on as a half close; an error on either ends both.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace tether::tunnelclient {

boost::asio::awaitable<void> splice(boost::asio::ip::tcp::socket a, boost::asio::ip::tcp::socket b);

}  // namespace tether::tunnelclient
