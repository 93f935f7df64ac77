// Socks5Proxy.hpp - a SOCKS5 proxy on 127.0.0.1 (RFC 1928, no authentication, CONNECT only) whose
// connections become outbound tunnel streams. Names are resolved by the agent (socks5h semantics), so
// `curl --proxy socks5h://127.0.0.1:<port> http://orders.ns` reaches the Service as a pod would.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

#include "protocol/tunnel/Frame.hpp"
#include "server/tunnel/LoopbackProxy.hpp"

namespace tether::tunnelclient {

// The SOCKS5 reply code for a failed open (RFC 1928 §6).
std::uint8_t socksReplyFor(tunnel::Code code);

class Socks5Proxy final : public LoopbackProxy {
 public:
  explicit Socks5Proxy(TunnelClient& client, ProxyConfig config = {})
      : LoopbackProxy(client, config, "socks5 client") {}

 private:
  boost::asio::awaitable<bool> negotiate(boost::asio::ip::tcp::socket& socket) override;
};

}  // namespace tether::tunnelclient
