// LocalListen.hpp - binds a loopback acceptor for the local proxies and forwarders. They listen on
// 127.0.0.1 only: anything else on the developer's network must not reach the cluster through them.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <sys/socket.h>
#include <unistd.h>

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

// Takes over a listening TCP socket made elsewhere (another network namespace's loopback). On failure the
// descriptor is closed, so the caller never has to.
inline bool adoptListener(boost::asio::ip::tcp::acceptor& acceptor, int fd, std::string& error) {
  namespace asio = boost::asio;
  int listening = 0;
  int domain = 0;
  socklen_t size = sizeof(listening);
  socklen_t domainSize = sizeof(domain);
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || listening == 0 ||
      ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &domainSize) != 0 ||
      (domain != AF_INET && domain != AF_INET6)) {
    error = "descriptor " + std::to_string(fd) + " is not a listening TCP socket";
    ::close(fd);
    return false;
  }
  boost::system::error_code ec;
  acceptor.assign(domain == AF_INET ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), fd, ec);
  if (ec) {
    error = "adopting a listener: " + ec.message();
    ::close(fd);
    return false;
  }
  return true;
}

}  // namespace tether::tunnelclient
