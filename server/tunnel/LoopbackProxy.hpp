// LoopbackProxy.hpp - what every local proxy shares: a listener on 127.0.0.1, an accept loop, and a bounded
// handshake per client. A proxy supplies only `negotiate` (its protocol's greeting and request); a client
// that does not finish it within `handshakeTimeout`, or fails it, is closed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

class LoopbackProxy {
 public:
  // `what` names the proxy's clients in logs ("socks5 client").
  LoopbackProxy(TunnelClient& client, ProxyConfig config, std::string what);
  virtual ~LoopbackProxy() = default;
  LoopbackProxy(const LoopbackProxy&) = delete;
  LoopbackProxy& operator=(const LoopbackProxy&) = delete;

  // Binds 127.0.0.1:<port> (0 = any free port); false with `error` set when the bind fails.
  bool bind(std::uint16_t port, std::string& error);
  std::uint16_t port() const;
  boost::asio::awaitable<void> serve();
  void close();

 protected:
  // Runs the proxy protocol on one accepted client; false closes the client.
  virtual boost::asio::awaitable<bool> negotiate(boost::asio::ip::tcp::socket& socket) = 0;

  TunnelClient& client_;
  ProxyConfig config_;

 private:
  boost::asio::awaitable<void> handle(boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  std::string what_;
};

}  // namespace tether::tunnelclient
