// LocalListen.hpp - binds a loopback acceptor for the local proxies and forwarders. They listen on
// 127.0.0.1 only: anything else on the developer's network must not reach the cluster through them.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

namespace tether::tunnelclient {

inline bool bindLoopback(boost::asio::ip::tcp::acceptor& acceptor, std::uint16_t port, std::string& error) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "127.0.0.1:" + std::to_string(port) + ": " + ec.message();
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return false;
  }
  return true;
}

}  // namespace tether::tunnelclient
