// HttpProxy.hpp - an HTTP proxy on 127.0.0.1 for clients that know HTTP_PROXY/HTTPS_PROXY but not SOCKS:
// CONNECT host:port becomes a tunnel stream; an absolute-URI request is rewritten to origin form and sent
// on a stream to its host. After the first request the connection is a plain byte pipe to that host
// (servers accept absolute-form requests on it too, RFC 9112 §3.2.2).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

class HttpProxy {
 public:
  HttpProxy(TunnelClient& client, ProxyConfig config = {});
  bool bind(std::uint16_t port, std::string& error);
  std::uint16_t port() const;
  boost::asio::awaitable<void> serve();
  void close();

 private:
  boost::asio::awaitable<void> handle(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<bool> negotiate(boost::asio::ip::tcp::socket& socket);

  TunnelClient& client_;
  ProxyConfig config_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace tether::tunnelclient
