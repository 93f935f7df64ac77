// TunnelClient.hpp - the backend's side of the tunnel: keeps one connection to the shadow alive over
// whatever byte stream a Connector produces (a kube port-forward, or TCP in tests and benchmarks),
// reconnects with backoff, re-creates the reverse listeners after every reconnect, and forwards each
// reverse stream to 127.0.0.1:<local>.
//
// It knows nothing of Kubernetes: the session layer passes a Connector that opens a port-forward.
// State changes go to a TunnelObserver (the session maps them to tether/sessionChanged).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocol/tunnel/asio/Connection.hpp"

namespace tether::tunnelclient {

struct Forward {
  std::uint16_t remotePort = 0;  // the shadow listens on 0.0.0.0:<remotePort>
  std::uint16_t localPort = 0;   // accepted connections go to 127.0.0.1:<localPort>
  bool proxyProtocol = false;    // each starts with a PROXY protocol v1 line naming the real client
};

struct ClientConfig {
  std::chrono::milliseconds connectTimeout{10000};      // one Connector attempt
  std::chrono::milliseconds localConnectTimeout{5000};  // reverse stream -> 127.0.0.1:<local>
  // A local port that refuses every connection (nothing listens yet) is logged once per interval, with a
  // count, rather than once per connection the cluster sends.
  std::chrono::milliseconds localFailureLogInterval{30000};
  std::chrono::milliseconds backoffInitial{200};
  std::chrono::milliseconds backoffMax{5000};
  std::size_t maxAttempts = 0;  // consecutive failed attempts before giving up; 0 = never
  std::vector<Forward> forwards;
  tunnel::ConnectionConfig connection;
};

enum class TunnelState { Connecting, Connected, Reconnecting, Failed, Stopped };
std::string_view toString(TunnelState state);

class TunnelObserver {
 public:
  virtual ~TunnelObserver() = default;
  virtual void onState(TunnelState state, const std::string& detail) = 0;
  virtual void onListener(const tunnel::ListenResult& result) = 0;
  // A reverse stream reached 127.0.0.1:<port> (error empty) or could not (nothing listens there).
  virtual void onLocalConnect(std::uint16_t /*port*/, const std::string& /*error*/) {}
};

struct Connected {
  std::string error;  // empty on success
  std::unique_ptr<tunnel::ByteStream> stream;
  bool permanent = false;  // the error cannot go away by trying again (the peer is not who it must be)
};
using Connector = std::function<boost::asio::awaitable<Connected>()>;

// Connects to host:port over TCP within `timeout`.
Connector tcpConnector(boost::asio::any_io_executor executor, std::string host, std::uint16_t port,
                       std::chrono::milliseconds timeout);

class TunnelClient final : public tunnel::ConnectionHandler {
 public:
  TunnelClient(boost::asio::any_io_executor executor, Connector connector, std::string token,
               ClientConfig config, TunnelObserver& observer);

  // Runs until stop() or a permanent failure (wrong token, version mismatch, maxAttempts reached).
  boost::asio::awaitable<void> run();
  void stop();
  // The live connection, or null while (re)connecting: proxies fail fast rather than queue.
  std::shared_ptr<tunnel::Connection> current() const;
  TunnelState state() const { return state_; }
  boost::asio::any_io_executor executor() const { return executor_; }

  void onOpen(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t id,
              const tunnel::Open& target) override;
  void onEstablished(const std::shared_ptr<tunnel::Connection>& conn) override;
  void onGoaway(const std::shared_ptr<tunnel::Connection>& conn, const tunnel::Status& status) override;

 private:
  boost::asio::awaitable<void> createListeners(std::shared_ptr<tunnel::Connection> conn);
  boost::asio::awaitable<void> forwardLocal(std::shared_ptr<tunnel::Connection> conn, std::uint32_t id,
                                            Forward forward, tunnel::Open from);
  void setState(TunnelState state, const std::string& detail);
  // Logs a failed connection to 127.0.0.1:port, or counts it when one was logged within the interval.
  void noteLocalFailure(std::uint16_t port, const std::string& error);
  std::chrono::milliseconds backoffFor(std::size_t attempt) const;

  boost::asio::any_io_executor executor_;
  Connector connector_;
  std::string token_;
  ClientConfig config_;
  TunnelObserver& observer_;
  std::shared_ptr<tunnel::Connection> current_;
  boost::asio::steady_timer backoffTimer_;
  TunnelState state_ = TunnelState::Connecting;
  bool stopped_ = false;
  struct LocalFailures {
    std::chrono::steady_clock::time_point logged;
    std::size_t unlogged = 0;
  };
  std::map<std::uint16_t, LocalFailures> localFailures_;
};

}  // namespace tether::tunnelclient
