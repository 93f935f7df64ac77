// Socks5Proxy.hpp - a SOCKS5 proxy on 127.0.0.1 (RFC 1928, no authentication, CONNECT only) whose
// connections become outbound tunnel streams. Names are resolved by the agent (socks5h semantics), so
// `curl --proxy socks5h://127.0.0.1:<port> http://orders.ns` reaches the Service as a pod would.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

#include "protocol/tunnel/Frame.hpp"
#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

// The SOCKS5 reply code for a failed open (RFC 1928 §6).
std::uint8_t socksReplyFor(tunnel::Code code);

class Socks5Proxy {
 public:
  Socks5Proxy(TunnelClient& client, ProxyConfig config = {});
  // Binds 127.0.0.1:<port> (0 = any free port); false with `error` set when the bind fails.
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
