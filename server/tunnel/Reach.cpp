// Reach.cpp - the route, the dial, and the fallbacks.
#include "server/tunnel/Reach.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <utility>

#include "server/tunnel/Splice.hpp"
#include "support/text/LogText.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using tunnel::Code;

namespace {

Code codeOf(OutsideFailure failure) {
  switch (failure) {
    case OutsideFailure::None:
      return Code::Ok;
    case OutsideFailure::NoSuchName:
      return Code::DnsFailure;
    case OutsideFailure::Refused:
      return Code::Refused;
    case OutsideFailure::Timeout:
      return Code::Timeout;
    case OutsideFailure::Unreachable:
    case OutsideFailure::ProxyRefused:
      return Code::Unreachable;
  }
  return Code::Unreachable;
}

asio::awaitable<Reached> throughTunnel(TunnelClient& tunnel, const std::string& host, std::uint16_t port) {
  Reached reached;
  auto conn = tunnel.current();
  if (!conn) {
    reached.code = Code::TransportLost;
    reached.message = "the tunnel to the cluster is not connected";
    co_return reached;
  }
  // A named target: GCC 12 mis-destroys brace-initialised temporaries that live across a co_await.
  const tunnel::Open target{tunnel::OpenKind::Dial, port, host};
  auto [status, id] = co_await conn->open(target);
  reached.code = status.code;
  reached.message = status.message;
  if (status.code == Code::Ok) {
    reached.conn = conn;
    reached.id = id;
  }
  co_return reached;
}

asio::awaitable<Reached> fromHere(const ProxyConfig& config, Via via, const std::string& host,
                                  std::uint16_t port) {
  Reached reached;
  reached.via = via;
  OutsideFailure failure = OutsideFailure::None;
  auto connection = co_await dialOutside(host, port, *config.policy, via, config.outsideDialTimeout, failure,
                                         reached.message);
  if (connection) {
    reached.outside = std::move(connection);
  } else {
    reached.code = codeOf(failure);
  }
  co_return reached;
}

}  // namespace

Reached::Reached(Reached&& other) noexcept
    : via(other.via),
      conn(std::move(other.conn)),
      id(std::exchange(other.id, 0)),
      outside(std::move(other.outside)),
      code(other.code),
      message(std::move(other.message)) {
  other.conn.reset();
}

Reached& Reached::operator=(Reached&& other) noexcept {
  if (this == &other) return *this;
  if (conn && id) conn->release(id);
  via = other.via;
  conn = std::move(other.conn);
  other.conn.reset();
  id = std::exchange(other.id, 0);
  outside = std::move(other.outside);
  code = other.code;
  message = std::move(other.message);
  return *this;
}

Reached::~Reached() {
  if (conn && id) conn->release(id);
}

std::pair<std::shared_ptr<tunnel::Connection>, std::uint32_t> Reached::takeStream() {
  auto taken = std::pair{std::move(conn), std::exchange(id, 0)};
  conn.reset();
  return taken;
}

Via routeOf(const ProxyConfig& config, const std::string& host) {
  return config.policy ? config.policy->route(host) : Via::Tunnel;
}

asio::awaitable<Reached> reach(TunnelClient& tunnel, const ProxyConfig& config, const std::string& host,
                               std::uint16_t port) {
  const Via via = routeOf(config, host);
  const bool name = !isAddressLiteral(host);
  if (via == Via::Tunnel) {
    auto reached = co_await throughTunnel(tunnel, host, port);
    if (reached.code == Code::DnsFailure && name && config.policy && host.find('.') == std::string::npos) {
      // `myhost`: not a Service of the namespace, so perhaps a name of the developer's own network.
      auto here = co_await fromHere(config, config.policy->outside(host), host, port);
      if (here.ok()) co_return here;
    }
    co_return reached;
  }
  auto here = co_await fromHere(config, via, host, port);
  if (here.code == Code::DnsFailure && name) {
    // `orders.other-ns`: unknown here, perhaps a Service of another namespace.
    auto cluster = co_await throughTunnel(tunnel, host, port);
    if (cluster.ok()) co_return cluster;
  }
  if (!here.ok()) {
    spdlog::info("event=outside_dial_failed host=\"{}\" port={} via=\"{}\" reason=\"{}\"",
                 support::logText(host), port, toString(via), support::logText(here.message));
  }
  co_return here;
}

asio::awaitable<void> join(Reached reached, asio::ip::tcp::socket client) {
  if (reached.outside) {
    // What the developer's proxy passed on with its 200 is the server's first bytes (SSH, SMTP speak first).
    auto [ec, written] = co_await asio::async_write(client, asio::buffer(reached.outside->early),
                                                    asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    co_await splice(std::move(client), std::move(reached.outside->socket));
  } else if (reached.conn) {
    auto [conn, id] = reached.takeStream();
    co_await conn->pump(id, std::move(client));
  }
}

}  // namespace tether::tunnelclient
