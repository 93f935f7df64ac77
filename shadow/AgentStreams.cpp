// AgentStreams.cpp - the agent's streams: outbound dialing with the pod's own resolver, and reverse
// listeners whose accepted connections travel back through the tunnel.
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/tunnel/asio/AcceptLoop.hpp"
#include "protocol/tunnel/asio/Spawn.hpp"
#include "shadow/Agent.hpp"
#include "support/text/LogText.hpp"

namespace tether::shadow {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using tunnel::Code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

}  // namespace

void Agent::onOpen(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t id,
                   const tunnel::Open& target) {
  if (target.kind != tunnel::OpenKind::Dial) {
    conn->reset(id, Code::Refused, "the agent only dials; listener streams come from the agent");
    return;
  }
  tunnel::spawnLogged(conn->executor(), dial(conn, id, target.host, target.port), "dial " + target.host);
}

asio::awaitable<void> Agent::dial(std::shared_ptr<tunnel::Connection> conn, std::uint32_t id,
                                  std::string host, std::uint16_t port) {
  const tunnel::Open target{tunnel::OpenKind::Dial, port, std::move(host)};
  // The resolver is the pod's own (getaddrinfo with its resolv.conf and search list), so `orders` and
  // `orders.ns` resolve exactly as in any other pod of the namespace.
  tcp::resolver resolver(ioc_);
  asio::steady_timer deadline(ioc_, options_.dialTimeout);
  auto resolved = co_await (resolver.async_resolve(target.host, std::to_string(target.port), kAwait) ||
                            deadline.async_wait(kAwait));
  if (resolved.index() == 1) {
    conn->reset(id, Code::Timeout, target.host + ": name resolution timed out");
    co_return;
  }
  auto [rec, endpoints] = std::get<0>(std::move(resolved));
  if (rec) {
    spdlog::info("event=dial_failed host=\"{}\" port={} code=dns error=\"{}\"", support::logText(target.host),
                 target.port, rec.message());
    conn->reset(id, Code::DnsFailure, target.host + ": " + rec.message());
    co_return;
  }
  tcp::socket socket(ioc_);
  auto connected = co_await (asio::async_connect(socket, endpoints, kAwait) || deadline.async_wait(kAwait));
  if (connected.index() == 1) {
    conn->reset(id, Code::Timeout, target.host + ":" + std::to_string(target.port) + ": connect timed out");
    co_return;
  }
  auto [cec, endpoint] = std::get<0>(connected);
  if (cec) {
    spdlog::info("event=dial_failed host=\"{}\" port={} error=\"{}\"", support::logText(target.host),
                 target.port, cec.message());
    conn->reset(id, cec == asio::error::connection_refused ? Code::Refused : Code::Unreachable,
                target.host + ":" + std::to_string(target.port) + ": " + cec.message());
    co_return;
  }
  spdlog::debug("event=dialed host=\"{}\" port={} address={}", support::logText(target.host), target.port,
                endpoint.address().to_string());
  conn->accept(id);
  co_await conn->pump(id, std::move(socket));
}

void Agent::onListen(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t requestId,
                     std::uint16_t port) {
  auto& owned = listeners_[conn.get()];
  if (owned.count(port)) {
    conn->replyListen(requestId, tunnel::ListenResult{Code::Ok, port, "already listening"});
    return;
  }
  auto acceptor = std::make_shared<Acceptor>(ioc_);
  error_code ec;
  auto address = asio::ip::make_address(options_.listenHost, ec);
  tcp::endpoint endpoint(address, port);
  if (!ec) acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    spdlog::warn("event=listen_failed port={} error=\"{}\"", port, ec.message());
    conn->replyListen(requestId, tunnel::ListenResult{
                                     Code::BindFailed, port,
                                     options_.listenHost + ":" + std::to_string(port) + ": " + ec.message()});
    return;
  }
  spdlog::info("event=listening port={} host={}", port, options_.listenHost);
  owned[port] = acceptor;
  conn->replyListen(requestId, tunnel::ListenResult{Code::Ok, port, ""});
  tunnel::spawnLogged(conn->executor(), acceptReverse(conn, acceptor, port),
                      "listener " + std::to_string(port));
}

void Agent::onUnlisten(const std::shared_ptr<tunnel::Connection>& conn, std::uint16_t port) {
  auto it = listeners_.find(conn.get());
  if (it == listeners_.end()) return;
  if (auto l = it->second.find(port); l != it->second.end()) {
    error_code ec;
    l->second->close(ec);
    it->second.erase(l);
    spdlog::info("event=unlistened port={}", port);
  }
}

void Agent::closeListeners(const tunnel::Connection* conn) {
  auto it = listeners_.find(conn);
  if (it == listeners_.end()) return;
  for (auto& [port, acceptor] : it->second) {
    error_code ec;
    acceptor->close(ec);
    spdlog::info("event=listener_closed port={}", port);
  }
  listeners_.erase(it);
}

asio::awaitable<void> Agent::acceptReverse(std::shared_ptr<tunnel::Connection> conn,
                                           std::shared_ptr<Acceptor> acceptor, std::uint16_t port) {
  auto load = std::make_shared<ListenerLoad>();
  const std::size_t cap = options_.maxListenerConnections;
  auto refuse = [](tcp::socket& socket) {
    // An RST, so the cluster-side caller fails fast (and retries elsewhere) rather than hangs.
    error_code ec;
    socket.set_option(asio::socket_base::linger(true, 0), ec);
    socket.close(ec);
  };
  const tunnel::OnAccepted onAccepted = [=, this](tcp::socket socket) {
    if (load->open >= cap) {
      if (!load->full)
        spdlog::warn("event=listener_full port={} open={} reason=\"--max-listener-connections\"", port, cap);
      load->full = true;
      refuse(socket);
      return;
    }
    error_code pec, lec;
    const auto peer = socket.remote_endpoint(pec);
    const auto local = socket.local_endpoint(lec);
    auto text = [](const tcp::endpoint& endpoint) {
      const auto address = endpoint.address().to_string();
      return (endpoint.address().is_v6() ? "[" + address + "]" : address) + ":" +
             std::to_string(endpoint.port());
    };
    auto id =
        conn->openNow(tunnel::Open{tunnel::OpenKind::FromListener, port, pec ? std::string("?") : text(peer),
                                   lec ? std::string() : text(local)});
    if (!id) {
      // The client is going away, or the agent's own streams are at --max-agent-streams.
      if (!load->full)
        spdlog::warn(
            "event=listener_refused port={} reason=\"no stream: the client is leaving or the agent's streams "
            "are at their limit\"",
            port);
      load->full = true;
      refuse(socket);
      return;
    }
    ++load->open;
    tunnel::spawnLogged(conn->executor(), carryReverse(conn, *id, std::move(socket), load), "reverse stream");
  };
  co_await tunnel::acceptLoop(*acceptor, "listener " + std::to_string(port), onAccepted);
}

asio::awaitable<void> Agent::carryReverse(std::shared_ptr<tunnel::Connection> conn, std::uint32_t id,
                                          tcp::socket socket, std::shared_ptr<ListenerLoad> load) {
  co_await conn->pump(id, std::move(socket));
  --load->open;
  load->full = false;
}

}  // namespace tether::shadow
