// HttpProxy.hpp - an HTTP proxy on 127.0.0.1 for clients that know HTTP_PROXY/HTTPS_PROXY but not SOCKS.
// CONNECT host:port becomes a tunnel stream. Absolute-form requests are read one by one on a keep-alive
// connection, and each goes in origin form to its own host: `GET http://inventory/` then
// `GET http://frontend/` on one connection reach two Services (HttpProxyConnection does the work).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/tunnel/LoopbackProxy.hpp"

namespace tether::tunnelclient {

class HttpProxy final : public LoopbackProxy {
 public:
  HttpProxy(std::shared_ptr<TunnelClient> client, ProxyAuth auth, ProxyConfig config = {})
      : LoopbackProxy(std::move(client), std::move(auth), config, "http") {}

 private:
  friend class MixedProxy;  // hands over the clients whose first byte says HTTP
  boost::asio::awaitable<void> serveClient(boost::asio::ip::tcp::socket& socket) override;
};

}  // namespace tether::tunnelclient
