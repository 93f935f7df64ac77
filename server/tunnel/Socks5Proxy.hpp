// Socks5Proxy.hpp - a SOCKS5 proxy on 127.0.0.1 (RFC 1928, CONNECT only, RFC 1929 username/password when
// the session asks for credentials) whose connections become outbound tunnel streams. Names are resolved
// by the agent (socks5h semantics), so `curl --proxy socks5h://user:pass@127.0.0.1:<port> http://orders.ns`
// reaches the Service as a pod would.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "protocol/tunnel/Frame.hpp"
#include "server/tunnel/LoopbackProxy.hpp"
#include "server/tunnel/Reach.hpp"

namespace tether::tunnelclient {

class Socks5Handshake;

// The SOCKS5 reply code for a failed open (RFC 1928 §6).
std::uint8_t socksReplyFor(tunnel::Code code);

class Socks5Proxy final : public LoopbackProxy {
 public:
  Socks5Proxy(std::shared_ptr<TunnelClient> client, ProxyAuth auth, ProxyConfig config = {})
      : LoopbackProxy(std::move(client), std::move(auth), config, "socks5") {}

 private:
  friend class MixedProxy;  // hands over the clients whose first byte says SOCKS
  boost::asio::awaitable<void> serveClient(boost::asio::ip::tcp::socket& socket) override;
  // The handshake and the OPEN, within handshakeTimeout: the open stream, or nullopt (answered and closed).
  boost::asio::awaitable<std::optional<Reached>> negotiate(boost::asio::ip::tcp::socket& socket,
                                                           Socks5Handshake& handshake);
};

}  // namespace tether::tunnelclient
