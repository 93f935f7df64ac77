// HttpProxyConnection.hpp - one client connection of the HTTP proxy. Requests are read one at a time:
// each head is parsed, its credentials checked and its target planned (ProxyRequest), then the request goes
// to a stream for its host, opened or reused from this connection's idle upstreams, and the response comes
// back with its body framed, so the next head is found where it really starts. Pipelined requests simply
// wait in the buffer and keep their order. CONNECT and a `101 Switching Protocols` turn the connection into
// a byte tunnel for the rest of its life.
//
// Every wait is bounded by ProxyConfig (the next head, a request in progress) or by the tunnel's
// ConnectionConfig (the OPEN, the stream's reads and credit).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/http1/Message.hpp"
#include "server/tunnel/LoopbackProxy.hpp"
#include "server/tunnel/ProxyAuth.hpp"
#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/ProxyRequest.hpp"
#include "server/tunnel/Reach.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

class HttpProxyConnection {
 public:
  // `client` stays owned by the caller (the proxy closes it on stop); a CONNECT or an upgrade moves it to a
  // pump.
  HttpProxyConnection(TunnelClient& tunnel, const ProxyAuth& auth, const ProxyConfig& config,
                      boost::asio::ip::tcp::socket& client);
  ~HttpProxyConnection();
  HttpProxyConnection(const HttpProxyConnection&) = delete;
  HttpProxyConnection& operator=(const HttpProxyConnection&) = delete;

  boost::asio::awaitable<void> run();

 private:
  enum class After { Next, Close, Reset, Handed };  // serve the next request, close, abort, or a pump has it
  struct Upstream {
    std::shared_ptr<tunnel::Connection> conn;
    std::uint32_t id = 0;
    std::string key;
    bool reused = false;
  };
  struct Exchange;  // the state the request body and the response share while both flow

  boost::asio::awaitable<std::optional<std::size_t>> readHead();
  boost::asio::awaitable<After> serve(const http1::RequestHead& head);
  boost::asio::awaitable<After> tunnel(const ProxyPlan& plan);
  boost::asio::awaitable<After> forward(const ProxyPlan& plan);
  // A host that is not the cluster's: a connection from this machine, joined to the client's; `tryCluster`
  // when this machine cannot resolve the name (the caller then tries the tunnel).
  boost::asio::awaitable<After> forwardOutside(const ProxyPlan& plan, Via via, bool& tryCluster);
  boost::asio::awaitable<After> joinOutside(OutsideConnection outside, std::string first);
  boost::asio::awaitable<void> sendBody(Upstream& upstream, const ProxyPlan& plan, Exchange& exchange);
  boost::asio::awaitable<void> relayResponse(Upstream& upstream, const ProxyPlan& plan, Exchange& exchange);
  boost::asio::awaitable<std::optional<Upstream>> acquire(const ProxyTarget& target, bool fresh, int& status,
                                                          std::string& error);
  void keep(Upstream upstream);
  void drop(Upstream& upstream, std::string_view why);
  boost::asio::awaitable<std::size_t> readClient(std::chrono::milliseconds bound);
  boost::asio::awaitable<bool> writeClient(std::string_view bytes);
  boost::asio::awaitable<After> refuse(int status, const std::string& message, bool keepAlive,
                                       const std::string& extraFields = "");

  TunnelClient& tunnel_;
  const ProxyAuth& auth_;
  const ProxyConfig& config_;
  boost::asio::ip::tcp::socket& client_;
  std::string peer_;
  std::string in_;  // bytes from the client not yet handled: the next head, a body, pipelined requests
  std::optional<std::chrono::steady_clock::time_point> headDeadline_;  // set by the first byte of a head
  std::vector<Upstream> idle_;
};

}  // namespace tether::tunnelclient
