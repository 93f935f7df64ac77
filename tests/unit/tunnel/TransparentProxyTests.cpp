// TransparentProxyTests.cpp - a connection that was not redirected has no original destination, so the
// transparent proxy never mistakes its own address for where the program was going.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/tunnel/TransparentProxy.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST_CASE("a connection that was not redirected has no original destination", "[tunnel][netns]") {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket accepted(io);
  acceptor.accept(accepted);
  CHECK_FALSE(tether::tunnelclient::originalDestination(accepted).has_value());
}
