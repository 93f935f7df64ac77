// PreloadDns.hpp - the preload shim's UDP DNS: programs with their own resolver (c-ares in Node's
// dns.resolve, Go's, a raw query) send their questions to the nameservers of /etc/resolv.conf; the shim
// sends those datagrams here instead, and gives the answers back as if from the nameserver asked.
//
// A name the cluster may have (a single label, `orders.shop`, `.svc`, under the pod's search path) is
// answered as the shim's getaddrinfo answers it: the pod's search path, A records through the agent. A name
// the cluster lacks, or that is not the cluster's, goes to resolv.conf's nameservers in order as it was
// sent, and the first answer comes back unchanged: the program's other lookups behave as without Tether.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/tunnel/PreloadService.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

// The IPv4 nameservers of a resolv.conf text, in order (IPv6 ones are left out: the shim catches IPv4).
std::vector<std::string> ipv4Nameservers(std::string_view resolvConf);

struct PreloadDnsConfig {
  std::vector<std::string> upstream;  // resolv.conf's nameservers, asked in order for outside names
  // Each nameserver's time to answer an outside question before the next is asked.
  std::chrono::milliseconds upstreamTimeout{2000};
  std::chrono::milliseconds clusterTimeout{15000};  // a cluster question (the shim's own request bound)
  std::uint32_t answerTtl = 5;                      // seconds, as the session keeps its answers
  std::size_t maxInFlight = 1024;                   // questions being answered; more are dropped
};

class PreloadDns : public std::enable_shared_from_this<PreloadDns> {
 public:
  PreloadDns(std::shared_ptr<PreloadService> service, std::shared_ptr<TunnelClient> tunnel,
             PreloadDnsConfig config);
  bool bind(std::string& error);  // a free UDP port on 127.0.0.1
  std::uint16_t port() const;
  boost::asio::awaitable<void> serve();
  void close();

 private:
  boost::asio::awaitable<void> answer(std::string query, boost::asio::ip::udp::endpoint from);
  boost::asio::awaitable<std::string> askUpstream(std::string query);
  // One nameserver's answer to `query`, or empty when it refused or did not answer within upstreamTimeout.
  boost::asio::awaitable<std::string> askOne(const std::string& address, const std::string& query);

  std::shared_ptr<PreloadService> service_;
  std::shared_ptr<TunnelClient> tunnel_;
  PreloadDnsConfig config_;
  boost::asio::ip::udp::socket socket_;
  std::size_t inFlight_ = 0;
};

}  // namespace tether::tunnelclient
