// Agent.hpp - tether-shadow's core: the tunnel endpoint, reverse listeners, outbound dialing, the DNS
// relay, the readiness endpoint, the idle TTL and the SIGTERM drain.
//
// It is the agent side ConnectionHandler of protocol/tunnel. Listeners belong to the connection that
// asked for them and close with it; when a newer client finishes its handshake, older connections get
// GOAWAY and their listeners close first, so a reconnecting client can bind the same ports again.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocol/tunnel/asio/Connection.hpp"
#include "shadow/Options.hpp"

namespace tether::shadow {

class Agent final : public tunnel::ConnectionHandler {
 public:
  Agent(boost::asio::io_context& ioc, Options options);
  // Binds the tunnel and readiness ports and starts serving; false (logged) when a bind fails.
  bool start();
  // SIGTERM: GOAWAY to every client, drain within the bound, then stop the io_context. Idempotent.
  void shutdown(const std::string& reason);
  int exitCode() const { return exitCode_; }

  void onOpen(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t id,
              const tunnel::Open& target) override;
  void onListen(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t requestId,
                std::uint16_t port) override;
  void onUnlisten(const std::shared_ptr<tunnel::Connection>& conn, std::uint16_t port) override;
  void onDnsQuery(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t requestId,
                  std::string query) override;
  void onEstablished(const std::shared_ptr<tunnel::Connection>& conn) override;

 private:
  using Acceptor = boost::asio::ip::tcp::acceptor;
  // Connections one reverse listener carries, and whether its cap was hit since it was last below it
  // (refusals are logged once per burst, not once per connection).
  struct ListenerLoad {
    std::size_t open = 0;
    bool full = false;
  };

  boost::asio::awaitable<void> acceptTunnels();
  boost::asio::awaitable<void> serveConnection(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> dial(std::shared_ptr<tunnel::Connection> conn, std::uint32_t id,
                                    std::string host, std::uint16_t port);
  boost::asio::awaitable<void> acceptReverse(std::shared_ptr<tunnel::Connection> conn,
                                             std::shared_ptr<Acceptor> acceptor, std::uint16_t port);
  static boost::asio::awaitable<void> carryReverse(std::shared_ptr<tunnel::Connection> conn, std::uint32_t id,
                                                   boost::asio::ip::tcp::socket socket,
                                                   std::shared_ptr<ListenerLoad> load);
  boost::asio::awaitable<void> relayDns(std::shared_ptr<tunnel::Connection> conn, std::uint32_t requestId,
                                        std::string query);
  boost::asio::awaitable<void> relayDnsTcp(std::shared_ptr<tunnel::Connection> conn, std::uint32_t requestId,
                                           std::string query, boost::asio::steady_timer& deadline);
  boost::asio::awaitable<void> serveReadiness();
  boost::asio::awaitable<void> answerProbe(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> idleWatch();
  boost::asio::awaitable<void> stopAfterDrain();
  void closeListeners(const tunnel::Connection* conn);
  bool idle() const { return sessions_ == 0; }

  boost::asio::io_context& ioc_;
  Options options_;
  tunnel::ConnectionConfig connectionConfig_;
  Acceptor tunnelAcceptor_;
  Acceptor readyAcceptor_;
  boost::asio::steady_timer sessionsWake_;
  boost::asio::ip::udp::endpoint dnsServer_;
  bool haveDnsServer_ = false;
  std::vector<std::weak_ptr<tunnel::Connection>> established_;
  std::map<const tunnel::Connection*, std::map<std::uint16_t, std::shared_ptr<Acceptor>>> listeners_;
  std::size_t sessions_ = 0;     // tunnel connections accepted and not yet ended
  std::size_t dnsInFlight_ = 0;  // DNS queries waiting for the nameserver (bounded by maxDnsInFlight)
  bool dnsBusy_ = false;         // queries are being refused: logged once until the count falls again
  std::chrono::steady_clock::time_point lastClient_;
  bool shuttingDown_ = false;
  int exitCode_ = 0;
};

}  // namespace tether::shadow
