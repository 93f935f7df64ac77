// Agent.cpp - the agent's lifecycle: tunnel accept loop, one coroutine per client connection, the
// readiness endpoint, the idle TTL and the SIGTERM drain. Streams, listeners and DNS are in their own files.
#include "shadow/Agent.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

#include "protocol/tunnel/asio/AcceptLoop.hpp"
#include "protocol/tunnel/asio/Spawn.hpp"
#include "shadow/Resolv.hpp"
#include "support/text/LogText.hpp"

namespace tether::shadow {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// Bounds of the readiness endpoint: a probe is one short request.
constexpr std::chrono::milliseconds kProbeReadTimeout{2000};
constexpr std::size_t kProbeMaxBytes = 4096;
// Receive buffers the tunnel may hold across all streams. The shadow pod runs under a 64Mi memory limit
// (server/kube Objects.hpp) and an OOM kill drops every stream, so the budget stays well inside it: about
// 10 MB for the process itself and its output queues, 24 MiB of stream buffers, and the rest for the
// kernel's socket buffers, which the pod's cgroup is charged for too. Past it, the stream with the largest
// buffer (a reader that stopped) is reset Busy rather than the agent growing.
constexpr std::size_t kMaxBufferedBytes = 24u * 1024u * 1024u;

bool bindAcceptor(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port, std::string& error) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    error = "bad address " + host;
    return false;
  }
  tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = host + ":" + std::to_string(port) + ": " + ec.message();
    acceptor.close();
    return false;
  }
  return true;
}

}  // namespace

Agent::Agent(asio::io_context& ioc, Options options)
    : ioc_(ioc),
      options_(std::move(options)),
      tunnelAcceptor_(ioc),
      readyAcceptor_(ioc),
      sessionsWake_(ioc),
      lastClient_(Clock::now()) {
  connectionConfig_.drainTimeout = options_.drainTimeout;
  connectionConfig_.keepaliveTimeout = options_.keepaliveTimeout;
  connectionConfig_.keepaliveInterval =
      std::min(connectionConfig_.keepaliveInterval, options_.keepaliveTimeout / 4);
  connectionConfig_.peerName = "tether-shadow";
  connectionConfig_.identity = options_.identity;
  connectionConfig_.mux.maxBuffered = kMaxBufferedBytes;
  connectionConfig_.mux.maxOwnStreams = options_.maxAgentStreams;
  connectionConfig_.mux.maxPeerStreams = options_.maxClientStreams;
}

bool Agent::start() {
  std::string error;
  if (!bindAcceptor(tunnelAcceptor_, options_.tunnelHost, options_.tunnelPort, error)) {
    spdlog::error("event=bind_failed what=tunnel error=\"{}\"", error);
    exitCode_ = 2;
    return false;
  }
  if (!bindAcceptor(readyAcceptor_, options_.readyHost, options_.readyPort, error)) {
    spdlog::error("event=bind_failed what=readiness error=\"{}\"", error);
    exitCode_ = 2;
    return false;
  }
  auto server =
      options_.dnsServer.empty() ? nameserverFromResolvConf("/etc/resolv.conf") : options_.dnsServer;
  if (auto endpoint = parseDnsServer(server)) {
    dnsServer_ = *endpoint;
    haveDnsServer_ = true;
  } else {
    spdlog::warn("event=dns_relay_disabled reason=\"no usable nameserver ({})\"", server);
  }
  spdlog::info("event=started tunnel={}:{} ready={}:{} listen_host={} idle_ttl_ms={} dns_server=\"{}\"",
               options_.tunnelHost, tunnelAcceptor_.local_endpoint().port(), options_.readyHost,
               readyAcceptor_.local_endpoint().port(), options_.listenHost, options_.idleTtl.count(),
               haveDnsServer_ ? server : "none");
  tunnel::spawnLogged(ioc_.get_executor(), acceptTunnels(), "tunnel accept loop");
  tunnel::spawnLogged(ioc_.get_executor(), serveReadiness(), "readiness endpoint");
  tunnel::spawnLogged(ioc_.get_executor(), idleWatch(), "idle ttl");
  return true;
}

asio::awaitable<void> Agent::acceptTunnels() {
  const tunnel::OnAccepted onAccepted = [this](tcp::socket socket) {
    if (shuttingDown_) return;
    tunnel::spawnLogged(ioc_.get_executor(), serveConnection(std::move(socket)), "tunnel connection");
  };
  co_await tunnel::acceptLoop(tunnelAcceptor_, "tunnel", onAccepted);
}

asio::awaitable<void> Agent::serveConnection(tcp::socket socket) {
  ++sessions_;
  auto conn = tunnel::Connection::create(ioc_.get_executor(),
                                         std::make_unique<tunnel::TcpByteStream>(std::move(socket)),
                                         tunnel::Role::Agent, connectionConfig_, *this);
  const std::string peer = conn->describe();
  spdlog::info("event=tunnel_accepted peer=\"{}\"", peer);
  tunnel::Status why = co_await conn->run(options_.token);
  closeListeners(conn.get());
  std::erase_if(established_, [&](const auto& weak) {
    auto c = weak.lock();
    return !c || c == conn;
  });
  --sessions_;
  lastClient_ = Clock::now();
  sessionsWake_.cancel();
  if (!conn->established()) {
    // Garbage, a port scan, a wrong token or an old client: logged, and the agent keeps serving.
    spdlog::warn("event=tunnel_rejected peer=\"{}\" code=\"{}\" reason=\"{}\"", peer,
                 tunnel::toString(why.code), support::logText(why.message));
  } else {
    spdlog::info("event=tunnel_closed peer=\"{}\" client=\"{}\" code=\"{}\" reason=\"{}\"", peer,
                 support::logText(conn->peerName()), tunnel::toString(why.code),
                 support::logText(why.message));
  }
}

void Agent::onEstablished(const std::shared_ptr<tunnel::Connection>& conn) {
  spdlog::info("event=tunnel_established peer=\"{}\" client=\"{}\"", conn->describe(),
               support::logText(conn->peerName()));
  // One client at a time owns the listeners: an older connection is most likely the same client's
  // broken transport, so it goes away now and its ports are free for the new one.
  for (auto& weak : established_) {
    if (auto old = weak.lock()) {
      spdlog::info("event=tunnel_replaced peer=\"{}\"", old->describe());
      closeListeners(old.get());
      tunnel::spawnLogged(ioc_.get_executor(),
                          old->drainAndClose(tunnel::Code::ShuttingDown, "replaced by a newer client"),
                          "drain replaced connection");
    }
  }
  established_.clear();
  established_.push_back(conn);
  if (shuttingDown_) {
    tunnel::spawnLogged(ioc_.get_executor(),
                        conn->drainAndClose(tunnel::Code::ShuttingDown, "the agent is stopping"),
                        "drain on shutdown");
  }
}

asio::awaitable<void> Agent::idleWatch() {
  // Checked a few times per TTL, so the exit comes at most a quarter TTL late (bounded to 5 s).
  const auto step =
      std::clamp(options_.idleTtl / 4, std::chrono::milliseconds(50), std::chrono::milliseconds(5000));
  asio::steady_timer timer(ioc_);
  while (!shuttingDown_) {
    timer.expires_after(step);
    co_await timer.async_wait(kAwait);
    if (idle() && Clock::now() - lastClient_ >= options_.idleTtl) {
      spdlog::info("event=idle_exit idle_ttl_ms={} reason=\"no client connected within the idle TTL\"",
                   options_.idleTtl.count());
      shutdown("idle TTL reached");
      co_return;
    }
  }
}

void Agent::shutdown(const std::string& reason) {
  if (shuttingDown_) return;
  shuttingDown_ = true;
  spdlog::info("event=shutdown reason=\"{}\" drain_timeout_ms={}", reason, options_.drainTimeout.count());
  error_code ec;
  tunnelAcceptor_.close(ec);
  for (auto& weak : established_) {
    if (auto conn = weak.lock()) {
      closeListeners(conn.get());
      tunnel::spawnLogged(ioc_.get_executor(),
                          conn->drainAndClose(tunnel::Code::ShuttingDown, "the agent is stopping: " + reason),
                          "drain on shutdown");
    }
  }
  tunnel::spawnLogged(ioc_.get_executor(), stopAfterDrain(), "stop after drain");
}

asio::awaitable<void> Agent::stopAfterDrain() {
  // Connections close themselves once drained; this bounds the whole exit at the drain bound plus a
  // moment for the last GOAWAY and FIN frames to be written.
  const auto deadline = Clock::now() + options_.drainTimeout + std::chrono::milliseconds(500);
  while (sessions_ > 0 && Clock::now() < deadline) {
    sessionsWake_.expires_at(deadline);
    co_await sessionsWake_.async_wait(kAwait);  // serveConnection cancels it when a session ends
  }
  spdlog::info("event=stopped open_sessions={}", sessions_);
  error_code ec;
  readyAcceptor_.close(ec);
  ioc_.stop();
}

asio::awaitable<void> Agent::serveReadiness() {
  const tunnel::OnAccepted onAccepted = [this](tcp::socket socket) {
    tunnel::spawnLogged(ioc_.get_executor(), answerProbe(std::move(socket)), "readiness probe");
  };
  co_await tunnel::acceptLoop(readyAcceptor_, "readiness", onAccepted);
}

asio::awaitable<void> Agent::answerProbe(tcp::socket socket) {
  asio::streambuf request(kProbeMaxBytes);
  asio::steady_timer deadline(ioc_, kProbeReadTimeout);
  co_await (asio::async_read_until(socket, request, "\r\n\r\n", kAwait) || deadline.async_wait(kAwait));
  // Ready means: the tunnel port is bound and the agent is not stopping. A probe does not need a client.
  const bool ready = !shuttingDown_ && tunnelAcceptor_.is_open();
  const std::string body = ready ? "ready clients=" + std::to_string(sessions_) + "\n" : "stopping\n";
  const std::string response =
      std::string(ready ? "HTTP/1.1 200 OK" : "HTTP/1.1 503 Service Unavailable") +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  co_await (asio::async_write(socket, asio::buffer(response), kAwait) || deadline.async_wait(kAwait));
  error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace tether::shadow
