// DnsForwarder.hpp - a DNS server on 127.0.0.1 (UDP and TCP, same port) that relays every query through
// the tunnel to the agent's resolver, so cluster names (`orders`, `orders.ns.svc.cluster.local`) resolve
// for local tools pointed at it. Failures answer SERVFAIL at once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <cstdint>
#include <set>
#include <string>

#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

// One query relayed as it is to the agent's resolver; SERVFAIL for `query` when the tunnel cannot answer.
boost::asio::awaitable<std::string> relayDnsQuery(TunnelClient& client, std::string query);

class DnsForwarder {
 public:
  DnsForwarder(TunnelClient& client, ProxyConfig config = {});
  // Binds UDP and TCP on 127.0.0.1:<port> (0 = a free port, the same for both).
  bool bind(std::uint16_t port, std::string& error);
  // Takes over a UDP socket and a listening TCP socket made elsewhere (a debuggee's network namespace,
  // where they sit on 127.0.0.1:53); the forwarder owns both. On failure both are closed.
  bool adopt(int udpFd, int tcpFd, std::string& error);
  std::uint16_t port() const;
  boost::asio::awaitable<void> serveUdp();
  boost::asio::awaitable<void> serveTcp();
  // Closes the listeners and every TCP client still connected (call on the executor it serves on).
  void close();

 private:
  boost::asio::awaitable<void> answerUdp(std::string query, boost::asio::ip::udp::endpoint from);
  boost::asio::awaitable<void> serveTcpClient(boost::asio::ip::tcp::socket socket);

  TunnelClient& client_;
  ProxyConfig config_;
  boost::asio::ip::udp::socket udp_;
  boost::asio::ip::tcp::acceptor tcp_;
  std::set<boost::asio::ip::tcp::socket*> clients_;  // TCP clients being served (in their frames)
};

}  // namespace tether::tunnelclient
