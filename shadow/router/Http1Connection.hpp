// Http1Connection.hpp - one client connection of the router speaking HTTP/1.x, routed per request. Each
// head is read and parsed (protocol/http1), routed by the route table's current snapshot (a lease's target
// or the stable Service), and sent on a pooled keep-alive connection to that target; the body goes up and
// the response comes back as they arrive, each framed so the next head is found where it really starts.
// Pipelined requests wait in the buffer and keep their order. A `101 Switching Protocols` joins the two
// sockets for the rest of the connection (WebSocket).
//
// Failures: a lease's target that refuses the connection → stable answers, marked `tether-route:
// fallback`; a reused connection that dies before any answer → one retry on a new one when the request is
// idempotent or its body was never sent; anything else → 502 naming the lease or stable. Every wait is
// bounded by RouterConfig through one Deadline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>
#include <vector>

#include "protocol/http1/Body.hpp"
#include "protocol/http1/Message.hpp"
#include "protocol/mesh/RouteTable.hpp"
#include "shadow/router/Deadline.hpp"
#include "shadow/router/RouterConfig.hpp"
#include "shadow/router/UpstreamPool.hpp"

namespace tether::shadow::router {

// What every connection of a router shares (all on the router's thread).
struct RouterServices {
  const RouterConfig& config;
  UpstreamPool& pool;
  const mesh::RouteTable& table;
  std::vector<char>& scratch;  // every read lands here first (see readAvailable in Http1Connection.cpp)
};

class Http1Connection {
 public:
  // `sniffed`: bytes the classifier already read from `client`.
  // `port`: the router port the connection arrived on (leases name the port they take).
  Http1Connection(RouterServices& services, boost::asio::ip::tcp::socket client, std::string sniffed,
                  Endpoint stable, std::uint16_t port);

  boost::asio::awaitable<void> run();

 private:
  enum class After { Next, Close, Handed };
  struct Exchange;

  boost::asio::awaitable<void> serve();
  boost::asio::awaitable<std::optional<std::size_t>> readHead();
  boost::asio::awaitable<After> forward(const http1::RequestHead& head, const http1::BodyFraming& body);
  boost::asio::awaitable<void> sendBody(Upstream& upstream, const http1::BodyFraming& body,
                                        Exchange& exchange);
  boost::asio::awaitable<void> relayResponse(Upstream& upstream, const http1::RequestHead& head,
                                             Exchange& exchange);
  boost::asio::awaitable<bool> relayBody(Upstream& upstream, const http1::BodyFraming& framing, bool chunk);
  boost::asio::awaitable<After> refuse(int status, const std::string& message, bool keepAlive);
  boost::asio::awaitable<std::size_t> readClient();
  boost::asio::awaitable<std::size_t> readUpstream(Upstream& upstream);
  boost::asio::awaitable<bool> writeClient(std::string_view bytes);

  RouterServices& services_;
  boost::asio::ip::tcp::socket client_;
  std::string in_;  // client bytes not handled yet: the next head, a body, pipelined requests
  Endpoint stable_;
  std::uint16_t port_;
  Deadline deadline_;
  std::string peer_;
};

}  // namespace tether::shadow::router
