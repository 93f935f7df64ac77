// LoopbackProxy.hpp - what every local proxy shares: a listener on 127.0.0.1, the accept loop (which pauses
// when out of descriptors), the credentials clients must present, and the bounds. A proxy supplies only
// `serveClient`, which runs one accepted client to its end with every wait bounded by `config_`.
//
// Lifetime: a proxy is shared (make it with std::make_shared). Its accept loop and every client it serves
// hold it, and it holds the tunnel client, so a keep-alive client outliving the session's stop never
// touches freed memory; close() ends the listener and every client still being served.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "server/tunnel/ProxyAuth.hpp"
#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

class LoopbackProxy : public std::enable_shared_from_this<LoopbackProxy> {
 public:
  // `what` names the proxy in logs ("socks5", "http").
  LoopbackProxy(std::shared_ptr<TunnelClient> client, ProxyAuth auth, ProxyConfig config, std::string what);
  virtual ~LoopbackProxy() = default;
  LoopbackProxy(const LoopbackProxy&) = delete;
  LoopbackProxy& operator=(const LoopbackProxy&) = delete;

  // Binds 127.0.0.1:<port> (0 = any free port); false with `error` set when the bind fails.
  bool bind(std::uint16_t port, std::string& error);
  // Takes over a listening TCP socket made elsewhere (inside a debuggee's network namespace); the proxy
  // owns and closes it. False with `error` set when it is not a listening TCP socket.
  bool adopt(int listeningFd, std::string& error);
  std::uint16_t port() const;
  boost::asio::awaitable<void> serve();
  // Closes the listener and the connections of every client still being served.
  void close();

 protected:
  // Serves one client to its end. The socket may be moved out (to a stream pump); close() then no longer
  // reaches it, and the pump ends with the tunnel instead.
  virtual boost::asio::awaitable<void> serveClient(boost::asio::ip::tcp::socket& socket) = 0;

  std::shared_ptr<TunnelClient> tunnel_;
  TunnelClient& client_;
  ProxyAuth auth_;
  ProxyConfig config_;
  std::string what_;

 private:
  static boost::asio::awaitable<void> runClient(std::shared_ptr<LoopbackProxy> self,
                                                boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  std::set<boost::asio::ip::tcp::socket*> clients_;  // sockets of clients being served (in their frames)
  bool full_ = false;  // clients were turned away since the count was last below the bound (logged once)
};

// "127.0.0.1:40312" for logs; "?" when the socket has no peer any more.
std::string peerOf(const boost::asio::ip::tcp::socket& socket);

}  // namespace tether::tunnelclient
