// HttpProxy.hpp - an HTTP proxy on 127.0.0.1 for clients that know HTTP_PROXY/HTTPS_PROXY but not SOCKS:
// CONNECT host:port becomes a tunnel stream; an absolute-URI request is rewritten to origin form and sent
// on a stream to its host. After the first request the connection is a plain byte pipe to that host
// (servers accept absolute-form requests on it too, RFC 9112 §3.2.2).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

#include "server/tunnel/LoopbackProxy.hpp"

namespace tether::tunnelclient {

class HttpProxy final : public LoopbackProxy {
 public:
  explicit HttpProxy(TunnelClient& client, ProxyConfig config = {})
      : LoopbackProxy(client, config, "http proxy client") {}

 private:
  boost::asio::awaitable<bool> negotiate(boost::asio::ip::tcp::socket& socket) override;
};

}  // namespace tether::tunnelclient
