// MixedProxy.hpp - the session's one proxy port: SOCKS5, SOCKS4/4a and HTTP (CONNECT and absolute-form) on
// 127.0.0.1, told apart by the client's first byte (5, 4, anything else). One URL then serves every variable
// (HTTP_PROXY, HTTPS_PROXY and ALL_PROXY all name http://127.0.0.1:P, which no client misreads), and a tool
// configured by hand may still speak SOCKS to the same port (socks5h://127.0.0.1:P).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

#include "server/tunnel/HttpProxy.hpp"
#include "server/tunnel/LoopbackProxy.hpp"
#include "server/tunnel/Socks5Proxy.hpp"

namespace tether::tunnelclient {

class MixedProxy final : public LoopbackProxy {
 public:
  MixedProxy(std::shared_ptr<TunnelClient> client, ProxyAuth auth, ProxyConfig config = {});

 private:
  boost::asio::awaitable<void> serveClient(boost::asio::ip::tcp::socket& socket) override;

  // Never bound nor served: they only serve the clients this proxy hands them.
  std::shared_ptr<Socks5Proxy> socks_;
  std::shared_ptr<HttpProxy> http_;
};

}  // namespace tether::tunnelclient
