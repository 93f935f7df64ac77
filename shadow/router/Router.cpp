// Router.cpp - listeners, classification, the control listener and lease expiry.
#include "shadow/router/Router.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>

#include "protocol/mesh/Sniff.hpp"
#include "protocol/tunnel/asio/AcceptLoop.hpp"
#include "protocol/tunnel/asio/Spawn.hpp"
#include "shadow/router/Http2Connection.hpp"
#include "shadow/router/Splice.hpp"

namespace tether::shadow::router {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using mesh::classify;
using mesh::Sniffed;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

std::unique_ptr<tcp::acceptor> listenOn(asio::io_context& ioc, const std::string& host, std::uint16_t port,
                                        std::string& error) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    error = "'" + host + "' is not an IP address";
    return nullptr;
  }
  auto acceptor = std::make_unique<tcp::acceptor>(ioc);
  const tcp::endpoint endpoint(address, port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
    return nullptr;
  }
  return acceptor;
}

Sniffed declared(PortProtocol protocol) {
  switch (protocol) {
    case PortProtocol::Http1:
      return Sniffed::Http1;
    case PortProtocol::H2c:
      return Sniffed::H2c;
    case PortProtocol::Tls:
      return Sniffed::Tls;
    case PortProtocol::Tcp:
      return Sniffed::Raw;
    case PortProtocol::Sniff:
      break;
  }
  return Sniffed::Undecided;
}

std::string_view nameOf(Sniffed sniffed) {
  switch (sniffed) {
    case Sniffed::Tls:
      return "tls";
    case Sniffed::H2c:
      return "h2c";
    case Sniffed::Http1:
      return "http/1";
    case Sniffed::Raw:
    case Sniffed::Undecided:
      break;
  }
  return "tcp";
}

}  // namespace

Router::Router(asio::io_context& ioc, RouterConfig config)
    : ioc_(ioc),
      config_(std::move(config)),
      pool_(ioc.get_executor(), config_),
      scratch_(64u * 1024u),
      services_{config_, pool_, table_, scratch_},
      expiry_(ioc) {}

Router::~Router() = default;

bool Router::start() {
  std::string error;
  control_ = listenOn(ioc_, config_.controlHost, config_.controlPort, error);
  if (!control_) {
    spdlog::error("event=router_start_failed error=\"{}\"", error);
    return false;
  }
  controlPort_ = control_->local_endpoint().port();
  for (const auto& routed : config_.ports) {
    auto acceptor = listenOn(ioc_, config_.listenHost, routed.listen, error);
    if (!acceptor) {
      spdlog::error("event=router_start_failed error=\"{}\"", error);
      return false;
    }
    bound_.push_back(acceptor->local_endpoint().port());
    ports_.push_back(Port{routed, std::move(acceptor)});
    loggedWhole_.push_back(false);
  }
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    tunnel::OnAccepted onAccepted = [this, i](tcp::socket socket) {
      tunnel::spawnLogged(ioc_.get_executor(), accepted(std::move(socket), i), "router connection");
    };
    tunnel::spawnLogged(ioc_.get_executor(),
                        tunnel::acceptLoop(*ports_[i].acceptor, "router port", std::move(onAccepted)),
                        "router accept");
    spdlog::info("event=router_listening port={} stable={}:{} protocol={}", bound_[i],
                 ports_[i].routed.stableHost, ports_[i].routed.stablePort,
                 toString(ports_[i].routed.protocol));
  }
  tunnel::OnAccepted onControl = [this](tcp::socket socket) {
    tunnel::spawnLogged(ioc_.get_executor(), serveControl(std::move(socket)), "router control");
  };
  tunnel::spawnLogged(ioc_.get_executor(),
                      tunnel::acceptLoop(*control_, "router control", std::move(onControl)),
                      "router control accept");
  tunnel::spawnLogged(ioc_.get_executor(), expireLeases(), "router lease expiry");
  if (config_.readyPort != 0) {
    // Bound last: the router is ready when every routed port and the control port are.
    ready_ = listenOn(ioc_, config_.readyHost, config_.readyPort, error);
    if (!ready_) {
      spdlog::error("event=router_start_failed error=\"{}\"", error);
      return false;
    }
    tunnel::OnAccepted onReady = [this](tcp::socket socket) {
      tunnel::spawnLogged(ioc_.get_executor(), answerReadiness(std::move(socket)), "router readiness");
    };
    tunnel::spawnLogged(ioc_.get_executor(),
                        tunnel::acceptLoop(*ready_, "router readiness", std::move(onReady)),
                        "router readiness accept");
  }
  spdlog::info("event=router_ready control={}:{}", config_.controlHost, controlPort_);
  return true;
}

void Router::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  for (auto& port : ports_) port.acceptor->close(ignored);
  if (control_) control_->close(ignored);
  if (ready_) ready_->close(ignored);
  expiry_.cancel();
  pool_.clear();
}

asio::awaitable<void> Router::accepted(tcp::socket socket, std::size_t port) {
  const auto open = connections_;
  if (*open >= config_.maxConnections) {
    spdlog::warn("event=router_connection_refused reason=\"{} connections open\"", *open);
    co_return;
  }
  ++*open;
  struct Count {
    std::shared_ptr<std::size_t> open;
    ~Count() { --*open; }
  } count{open};
  const RoutedPort& routed = ports_[port].routed;
  const Endpoint stable{routed.stableHost, routed.stablePort};
  std::string sniffed;
  Sniffed kind = declared(routed.protocol);
  if (kind == Sniffed::Undecided) {
    asio::steady_timer bound(ioc_, config_.sniffTimeout);
    std::array<char, 4096> buffer{};
    while (kind == Sniffed::Undecided) {
      auto outcome =
          co_await (socket.async_read_some(asio::buffer(buffer), kAwait) || bound.async_wait(kAwait));
      if (outcome.index() == 1) break;  // the bound passed: a server-first protocol, or a slow client
      auto [ec, n] = std::get<0>(outcome);
      if (ec) break;  // EOF or error: whatever came is replayed to stable
      sniffed.append(buffer.data(), n);
      kind = classify(sniffed);
    }
    if (kind == Sniffed::Undecided) kind = Sniffed::Raw;
  }
  if (kind == Sniffed::Http1) {
    Http1Connection connection(services_, std::move(socket), std::move(sniffed), stable, bound_[port]);
    co_await connection.run();
    co_return;
  }
  if (kind == Sniffed::H2c) {
    auto connection = std::make_shared<Http2Connection>(services_, std::move(socket), std::move(sniffed),
                                                        stable, bound_[port]);
    co_await connection->run();
    co_return;
  }
  if (kind == Sniffed::Tls && !loggedWhole_[port]) {
    loggedWhole_[port] = true;
    spdlog::info(
        "event=router_whole_connections port={} protocol=tls reason=\"headers are encrypted: TLS "
        "connections go to stable whole\"",
        bound_[port]);
  }
  std::string error;
  auto upstream = co_await pool_.acquire(stable, true, error);
  if (!upstream) {
    spdlog::info("event=router_stable_unreachable protocol={} error=\"{}\"", nameOf(kind), error);
    co_return;
  }
  Deadline deadline(socket.get_executor());
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  co_await (
      splice(socket, std::move(sniffed), upstream->socket, "", deadline, config_.spliceIdle, scratch_) ||
      deadline.watch());
}

std::string Router::apply(const mesh::ControlRequest& request) {
  using Kind = mesh::ControlReply::Kind;
  mesh::ControlReply reply;
  if (const auto* bad = std::get_if<mesh::BadRequest>(&request)) {
    reply.kind = Kind::Error;
    reply.message = bad->message;
    return mesh::encodeReply(reply);
  }
  if (std::holds_alternative<mesh::ListRequest>(request)) {
    const auto routes = table_.snapshot();
    reply.kind = Kind::Routes;
    reply.count = routes->size();
    std::string out = mesh::encodeReply(reply);
    const auto now = mesh::RouteTable::Clock::now();
    for (const auto& route : *routes) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(route.expires - now);
      out += mesh::encodeRouteLine({route.lease, std::max(left, std::chrono::milliseconds(0))});
    }
    return out;
  }
  if (const auto* drop = std::get_if<mesh::DropRequest>(&request)) {
    const auto before = *table_.snapshot();
    if (!table_.drop(drop->id)) {
      reply.kind = Kind::Unknown;
      reply.message = "no lease " + drop->id;
      return mesh::encodeReply(reply);
    }
    std::vector<mesh::Route> gone;
    for (const auto& route : before)
      if (route.lease.id == drop->id) gone.push_back(route);
    spdlog::info("event=lease_dropped id={} owner=\"{}\"", drop->id,
                 gone.empty() ? "" : gone.front().lease.owner);
    forgetTargetsOf(gone);
    leasesChanged();
    reply.kind = Kind::Dropped;
    return mesh::encodeReply(reply);
  }
  const auto& put = std::get<mesh::PutRequest>(request);
  const auto routes = table_.snapshot();
  const bool renewal = std::any_of(routes->begin(), routes->end(),
                                   [&](const mesh::Route& route) { return route.lease.id == put.lease.id; });
  auto outcome = table_.put(put.lease, mesh::RouteTable::Clock::now() + put.ttl);
  if (const auto* refused = std::get_if<mesh::PutRefused>(&outcome)) {
    spdlog::info("event=lease_refused id={} owner=\"{}\" reason=\"{}\"", put.lease.id, put.lease.owner,
                 refused->message);
    reply.kind = Kind::Refused;
    reply.message = refused->message;
    return mesh::encodeReply(reply);
  }
  reply.kind = Kind::Granted;
  reply.warnings = std::get<mesh::PutGranted>(outcome).warnings;
  if (!renewal) {
    std::string matchers;
    for (const auto& matcher : put.lease.matchers)
      matchers += (matchers.empty() ? "" : ",") + matcher.describe();
    spdlog::info("event=lease_granted id={} owner=\"{}\" target={}:{} matchers=\"{}\" ttl_ms={}",
                 put.lease.id, put.lease.owner, put.lease.target.host, put.lease.target.port, matchers,
                 put.ttl.count());
  }
  leasesChanged();
  return mesh::encodeReply(reply);
}

asio::awaitable<void> Router::serveControl(tcp::socket socket) {
  Deadline deadline(socket.get_executor());
  auto lines = [&]() -> asio::awaitable<void> {
    std::string in;
    std::array<char, 4096> buffer{};
    for (;;) {
      deadline.arm(config_.controlIdle);
      std::size_t newline;
      while ((newline = in.find('\n')) != std::string::npos) {
        const std::string reply = apply(mesh::parseRequest(std::string_view(in).substr(0, newline)));
        in.erase(0, newline + 1);
        auto [ec, n] = co_await asio::async_write(socket, asio::buffer(reply), kAwait);
        if (ec) co_return;
      }
      if (in.size() > mesh::kMaxControlLine) {
        mesh::ControlReply reply;
        reply.message = "a control line is longer than " + std::to_string(mesh::kMaxControlLine) + " bytes";
        co_await asio::async_write(socket, asio::buffer(mesh::encodeReply(reply)), kAwait);
        co_return;
      }
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), kAwait);
      if (ec) co_return;
      in.append(buffer.data(), n);
    }
  };
  co_await (lines() || deadline.watch());
}

asio::awaitable<void> Router::answerReadiness(tcp::socket socket) {
  // Read the probe's request head (bounded), so closing never resets an unread request.
  Deadline deadline(socket.get_executor());
  deadline.arm(std::chrono::seconds(5));
  auto answer = [&]() -> asio::awaitable<void> {
    std::string in;
    std::array<char, 1024> buffer{};
    while (in.find("\r\n\r\n") == std::string::npos && in.size() < 8192) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), kAwait);
      if (ec) co_return;
      in.append(buffer.data(), n);
    }
    static constexpr std::string_view kReady =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: "
        "close\r\n\r\nready\n";
    co_await asio::async_write(socket, asio::buffer(kReady), kAwait);
  };
  co_await (answer() || deadline.watch());
}

void Router::leasesChanged() {
  expiry_.cancel();  // expireLeases() looks at the new table's earliest expiry
}

void Router::forgetTargetsOf(const std::vector<mesh::Route>& gone) {
  const auto routes = table_.snapshot();
  for (const auto& route : gone) {
    const auto& target = route.lease.target;
    const bool stillUsed = std::any_of(routes->begin(), routes->end(), [&](const mesh::Route& other) {
      return other.lease.target.host == target.host && other.lease.target.port == target.port;
    });
    if (!stillUsed) pool_.forget(Endpoint{target.host, target.port});
  }
}

asio::awaitable<void> Router::expireLeases() {
  while (!stopped_) {
    const auto routes = table_.snapshot();
    auto next = mesh::RouteTable::Clock::time_point::max();
    for (const auto& route : *routes) next = std::min(next, route.expires);
    expiry_.expires_at(next);
    co_await expiry_.async_wait(kAwait);
    if (stopped_) co_return;
    const auto now = mesh::RouteTable::Clock::now();
    const auto before = *table_.snapshot();
    const auto expired = table_.expire(now);
    if (expired.empty()) continue;
    std::vector<mesh::Route> gone;
    for (const auto& route : before) {
      if (std::find(expired.begin(), expired.end(), route.lease.id) == expired.end()) continue;
      gone.push_back(route);
      spdlog::info("event=lease_expired id={} owner=\"{}\" reason=\"no renewal within its TTL\"",
                   route.lease.id, route.lease.owner);
    }
    forgetTargetsOf(gone);
  }
}

}  // namespace tether::shadow::router
