// Reach.hpp - a byte stream to host:port for a proxied client, by the route the OutboundPolicy gives: a
// tunnel stream the agent dials (the cluster), or a connection from this machine (anything else), with
// one fallback each way for names: a single label the cluster cannot resolve is tried here, and a name this
// machine cannot resolve (`orders.other-ns`) is tried in the cluster.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "protocol/tunnel/Frame.hpp"
#include "server/tunnel/OutsideDial.hpp"
#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

// What `reach` gave. It owns what it opened: a tunnel stream nobody took (a client gone, a deadline that won
// the race against an OPEN answered at the same moment) is released when the Reached goes.
struct Reached {
  Via via = Via::Tunnel;
  std::shared_ptr<tunnel::Connection> conn;  // through the tunnel: the open stream `id`
  std::uint32_t id = 0;
  std::optional<OutsideConnection> outside;  // from this machine
  tunnel::Code code = tunnel::Code::Ok;      // otherwise why not, in the tunnel's words
  std::string message;

  Reached() = default;
  Reached(Reached&& other) noexcept;
  Reached& operator=(Reached&& other) noexcept;
  Reached(const Reached&) = delete;
  Reached& operator=(const Reached&) = delete;
  ~Reached();

  bool ok() const { return code == tunnel::Code::Ok; }
  // The tunnel stream, now the caller's to end (Connection::pump does); this Reached no longer holds it.
  std::pair<std::shared_ptr<tunnel::Connection>, std::uint32_t> takeStream();
};

// The route of `host` under config.policy (everything through the tunnel without one).
Via routeOf(const ProxyConfig& config, const std::string& host);

boost::asio::awaitable<Reached> reach(TunnelClient& tunnel, const ProxyConfig& config,
                                      const std::string& host, std::uint16_t port);

// Joins a client's socket with what `reach` gave (ok() only): spliced to the connection from this machine,
// or pumped into the tunnel stream; returns when both directions have ended.
boost::asio::awaitable<void> join(Reached reached, boost::asio::ip::tcp::socket client);

}  // namespace tether::tunnelclient
