// TunnelClient.cpp - connect, handshake, re-create listeners, serve, and reconnect with backoff.
#include "server/tunnel/TunnelClient.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/ProxyProtocol.hpp"
#include "support/text/LogText.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using tunnel::Code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// Trying again cannot help: the other end holds another token, speaks another version, or is another pod.
bool permanent(Code code) {
  return code == Code::BadToken || code == Code::VersionMismatch || code == Code::WrongPeer;
}

}  // namespace

std::string_view toString(TunnelState state) {
  switch (state) {
    case TunnelState::Connecting:
      return "connecting";
    case TunnelState::Connected:
      return "connected";
    case TunnelState::Reconnecting:
      return "reconnecting";
    case TunnelState::Failed:
      return "failed";
    case TunnelState::Stopped:
      return "stopped";
  }
  return "unknown";
}

Connector tcpConnector(asio::any_io_executor executor, std::string host, std::uint16_t port,
                       std::chrono::milliseconds timeout) {
  return [executor, host, port, timeout]() -> asio::awaitable<Connected> {
    tcp::resolver resolver(executor);
    asio::steady_timer deadline(executor, timeout);
    auto resolved =
        co_await (resolver.async_resolve(host, std::to_string(port), kAwait) || deadline.async_wait(kAwait));
    if (resolved.index() == 1) co_return Connected{host + ": name resolution timed out", nullptr};
    auto [rec, endpoints] = std::get<0>(std::move(resolved));
    if (rec) co_return Connected{host + ": " + rec.message(), nullptr};
    tcp::socket socket(executor);
    auto connected = co_await (asio::async_connect(socket, endpoints, kAwait) || deadline.async_wait(kAwait));
    if (connected.index() == 1)
      co_return Connected{host + ":" + std::to_string(port) + ": connect timed out", nullptr};
    if (auto [cec, ep] = std::get<0>(connected); cec) {
      co_return Connected{host + ":" + std::to_string(port) + ": " + cec.message(), nullptr};
    }
    co_return Connected{"", std::make_unique<tunnel::TcpByteStream>(std::move(socket))};
  };
}

TunnelClient::TunnelClient(asio::any_io_executor executor, Connector connector, std::string token,
                           ClientConfig config, TunnelObserver& observer)
    : executor_(executor),
      connector_(std::move(connector)),
      token_(std::move(token)),
      config_(std::move(config)),
      observer_(observer),
      backoffTimer_(executor) {}

void TunnelClient::setState(TunnelState state, const std::string& detail) {
  state_ = state;
  observer_.onState(state, detail);
}

std::chrono::milliseconds TunnelClient::backoffFor(std::size_t attempt) const {
  auto delay = config_.backoffInitial;
  for (std::size_t i = 1; i < attempt && delay < config_.backoffMax; ++i) delay *= 2;
  return std::min(delay, config_.backoffMax);
}

std::shared_ptr<tunnel::Connection> TunnelClient::current() const {
  return current_ && current_->established() ? current_ : nullptr;
}

asio::awaitable<void> TunnelClient::run() {
  std::size_t failures = 0;
  bool everConnected = false;
  while (!stopped_) {
    setState(everConnected ? TunnelState::Reconnecting : TunnelState::Connecting,
             failures == 0 ? "" : "attempt " + std::to_string(failures + 1));
    asio::steady_timer deadline(executor_, config_.connectTimeout);
    auto attempt = co_await (connector_() || deadline.async_wait(kAwait));
    std::string error;
    std::unique_ptr<tunnel::ByteStream> stream;
    if (attempt.index() == 1) {
      error = "no transport within " + std::to_string(config_.connectTimeout.count()) + " ms";
    } else {
      auto& connected = std::get<0>(attempt);
      error = std::move(connected.error);
      stream = std::move(connected.stream);
      if (connected.permanent) {
        spdlog::error("event=tunnel_refused reason=\"{}\"", support::logText(error));
        setState(TunnelState::Failed, error);
        co_return;
      }
    }
    if (stream) {
      auto conn = tunnel::Connection::create(executor_, std::move(stream), tunnel::Role::Client,
                                             config_.connection, *this);
      current_ = conn;
      tunnel::Status why = co_await conn->run(token_);
      current_.reset();
      if (conn->established()) {
        everConnected = true;
        failures = 0;
        if (stopped_) {
          spdlog::info("event=tunnel_closed reason=\"{}\"", support::logText(why.message));
        } else {
          spdlog::warn("event=tunnel_lost code=\"{}\" reason=\"{}\"", tunnel::toString(why.code),
                       support::logText(why.message));
        }
      } else {
        error = std::string(tunnel::toString(why.code)) + ": " + why.message;
      }
      if (permanent(why.code)) {
        spdlog::error("event=tunnel_refused code=\"{}\" reason=\"{}\"", tunnel::toString(why.code),
                      support::logText(why.message));
        setState(TunnelState::Failed, why.message);
        co_return;
      }
      if (stopped_) break;
      if (conn->established()) continue;  // reconnect at once after a working connection dropped
    }
    ++failures;
    spdlog::warn("event=connect_failed attempt={} error=\"{}\"", failures, support::logText(error));
    if (config_.maxAttempts != 0 && failures >= config_.maxAttempts) {
      setState(TunnelState::Failed, "gave up after " + std::to_string(failures) + " attempts: " + error);
      co_return;
    }
    backoffTimer_.expires_after(backoffFor(failures));
    co_await backoffTimer_.async_wait(kAwait);
  }
  setState(TunnelState::Stopped, "");
}

void TunnelClient::stop() {
  stopped_ = true;
  backoffTimer_.cancel();
  if (current_) current_->close(tunnel::Status{Code::Ok, "stopped by the user"});
}

void TunnelClient::onEstablished(const std::shared_ptr<tunnel::Connection>& conn) {
  spdlog::info("event=tunnel_connected via=\"{}\" agent=\"{}\"", conn->describe(),
               support::logText(conn->peerName()));
  setState(TunnelState::Connected, conn->describe());
  tunnel::spawnLogged(executor_, createListeners(conn), "create listeners");
}

void TunnelClient::onGoaway(const std::shared_ptr<tunnel::Connection>&, const tunnel::Status& status) {
  spdlog::info("event=tunnel_goaway code=\"{}\" reason=\"{}\"", tunnel::toString(status.code),
               support::logText(status.message));
}

asio::awaitable<void> TunnelClient::createListeners(std::shared_ptr<tunnel::Connection> conn) {
  for (const auto& forward : config_.forwards) {
    auto result = co_await conn->listen(forward.remotePort);
    if (result.code == Code::Ok) {
      spdlog::info("event=reverse_listening remote_port={} local=127.0.0.1:{}", forward.remotePort,
                   forward.localPort);
    } else {
      spdlog::warn("event=reverse_listen_failed remote_port={} code=\"{}\" reason=\"{}\"", forward.remotePort,
                   tunnel::toString(result.code), support::logText(result.message));
    }
    observer_.onListener(result);
  }
}

void TunnelClient::onOpen(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t id,
                          const tunnel::Open& target) {
  if (target.kind != tunnel::OpenKind::FromListener) {
    conn->reset(id, Code::Refused, "the backend does not dial for the agent");
    return;
  }
  for (const auto& forward : config_.forwards) {
    if (forward.remotePort == target.port) {
      tunnel::spawnLogged(executor_, forwardLocal(conn, id, forward, target), "reverse stream");
      return;
    }
  }
  conn->reset(id, Code::NotFound, "no reverse forward for port " + std::to_string(target.port));
}

void TunnelClient::noteLocalFailure(std::uint16_t port, const std::string& error) {
  auto& failures = localFailures_[port];
  const auto now = std::chrono::steady_clock::now();
  if (failures.logged != std::chrono::steady_clock::time_point{} &&
      now - failures.logged < config_.localFailureLogInterval) {
    ++failures.unlogged;
    return;
  }
  spdlog::info("event=local_connect_failed port={} error=\"{}\" since_last_line={}", port, error,
               failures.unlogged);
  failures = LocalFailures{now, 0};
}

asio::awaitable<void> TunnelClient::forwardLocal(std::shared_ptr<tunnel::Connection> conn, std::uint32_t id,
                                                 Forward forward, tunnel::Open from) {
  const std::uint16_t localPort = forward.localPort;
  tcp::socket socket(executor_);
  asio::steady_timer deadline(executor_, config_.localConnectTimeout);
  const tcp::endpoint local(asio::ip::address_v4::loopback(), localPort);
  auto connected = co_await (socket.async_connect(local, kAwait) || deadline.async_wait(kAwait));
  if (connected.index() == 1) {
    observer_.onLocalConnect(localPort, "connect timed out");
    conn->reset(id, Code::Timeout, "127.0.0.1:" + std::to_string(localPort) + ": connect timed out");
    co_return;
  }
  if (auto [ec] = std::get<0>(connected); ec) {
    noteLocalFailure(localPort, ec.message());
    observer_.onLocalConnect(localPort, ec.message());
    conn->reset(id, Code::Refused, "127.0.0.1:" + std::to_string(localPort) + ": " + ec.message());
    co_return;
  }
  localFailures_.erase(localPort);  // listening now: the next failure is news again
  observer_.onLocalConnect(localPort, {});
  if (forward.proxyProtocol) {
    // Written before any byte of the stream, as the app's PROXY protocol parser expects.
    const std::string line = proxyProtocolV1(from.host, from.local);
    auto [wec, written] = co_await asio::async_write(socket, asio::buffer(line), kAwait);
    if (wec) {
      conn->reset(id, Code::Refused, "127.0.0.1:" + std::to_string(localPort) + ": " + wec.message());
      co_return;
    }
  }
  conn->accept(id);
  co_await conn->pump(id, std::move(socket));
}

}  // namespace tether::tunnelclient
