// PreloadService.hpp - the session's end of the LD_PRELOAD shim (`--outbound preload`, server/preload/): a
// Unix socket the shim asks, and a loopback port the shim connects cluster-bound sockets to.
//
// The shim's requests, one line each on a fresh connection, one line back:
// - `R NAME`: resolve NAME as a pod would (the pod's search path, A records through the agent's resolver);
//   `A IP...`, `N` (no such name) or `E` (the tunnel is down).
// - `C LPORT IP PORT`: the socket bound to 127.0.0.1:LPORT is about to connect here, meant for IP:PORT; `K`.
// - `D LPORT IP PORT`: the same for a blocking socket, dialled first so that connect() fails as it would;
//   `K` once the destination answered, else `F refused`, `F timeout`, `F noname` or `F unreachable`.
// - `P LPORT`: where the connection from LPORT was meant to go (getpeername); `A IP PORT` or `N`.
// - `N IP`: the name an earlier `R` resolved to IP (getnameinfo, gethostbyaddr); `A NAME` or `N`.
// A connection accepted on the port is looked up by its source port and sent on by the session's routes
// (the tunnel for the cluster's addresses); one that was not announced is reset.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "server/tunnel/OutboundPolicy.hpp"
#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/Reach.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::tunnelclient {

struct PreloadConfig {
  std::vector<std::string> search;  // the pod's search path, tried in order for names with few dots
  int ndots = 5;
  // One request of the shim, a resolution or a dial included (longer than the tunnel's 10 s open bound, so
  // a slow dial is answered with its own reason).
  std::chrono::milliseconds requestTimeout{15000};
  std::size_t maxAnnounced = 65536;  // connections announced and not yet ended
  // An announcement no connection took within this long is dropped (a program killed between announcing
  // and connecting, a connect() called again): the program's connect follows its announcement at once.
  std::chrono::milliseconds announcementTtl{30000};
  std::size_t maxAddresses = 16;                 // per answer to `R` (the shim reads at most 16)
  std::chrono::milliseconds acceptBackoff{100};  // after a failed accept (out of descriptors)
  // Answers kept: a program's 200 threads resolving one name make one question to the cluster, not 200.
  std::chrono::milliseconds answerTtl{5000};
  std::chrono::milliseconds noSuchNameTtl{2000};
};

class PreloadService : public std::enable_shared_from_this<PreloadService> {
 public:
  PreloadService(std::shared_ptr<TunnelClient> tunnel, PreloadConfig config, ProxyConfig proxy);
  // The Unix socket at `path` (0600; its directory private) and a port on 127.0.0.1. False with `error`.
  bool listen(const std::string& path, std::string& error);
  std::uint16_t port() const;
  boost::asio::awaitable<void> serveRequests();
  boost::asio::awaitable<void> serveConnections();
  void close();
  // `R NAME`'s answer line ("A IP...\n", "N\n" or "E\n"): cached, one question in flight per name. The
  // shim's UDP DNS (PreloadDns) answers from it too, so both ways of asking agree.
  boost::asio::awaitable<std::string> resolve(const std::string& name);
  const PreloadConfig& config() const { return config_; }

 private:
  boost::asio::awaitable<void> answer(boost::asio::local::stream_protocol::socket socket);
  boost::asio::awaitable<std::string> resolveOnce(const std::string& name);
  boost::asio::awaitable<void> carry(boost::asio::ip::tcp::socket socket);
  // `P`'s answer: where the connection from `port` was meant to go.
  std::string announcedReply(unsigned port) const;
  // Drops announcements no connection took within announcementTtl.
  void expireAnnouncements();
  // Forgets an announcement, releasing what was dialled for it.
  void drop(std::uint16_t port);
  // `D`: dials `target` now and keeps the result for the connection from `port`; the reply line.
  boost::asio::awaitable<std::string> dialFirst(std::uint16_t port, std::uint64_t generation, HostPort target,
                                                boost::asio::steady_timer& deadline);

  std::shared_ptr<TunnelClient> tunnel_;
  PreloadConfig config_;
  ProxyConfig proxy_;
  std::string path_;
  boost::asio::local::stream_protocol::acceptor requests_;
  boost::asio::ip::tcp::acceptor connections_;
  struct Announced {
    HostPort target;
    std::uint64_t generation = 0;  // a port reused by a newer socket is not forgotten by the older one's end
    std::shared_ptr<Reached> dialled;  // `D`: the stream (or connection) opened before the program connected
    std::chrono::steady_clock::time_point at;  // when announced: an unused announcement expires
    bool used = false;                         // the first connection from the port took it
  };
  struct Answer {
    std::string reply;  // "A ..." or "N"
    std::chrono::steady_clock::time_point expires;
  };
  struct Pending;  // a resolution in flight, which later askers of the same name wait for

  std::map<std::uint16_t, Announced> announced_;  // by the shim's local port
  std::uint64_t generation_ = 0;
  std::map<std::string, Answer> answers_;
  std::map<std::string, std::string> names_;  // address -> the name it answered (the FQDN that resolved)
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  std::set<boost::asio::ip::tcp::socket*> carried_;
  std::uint16_t nextQueryId_ = 1;
};

}  // namespace tether::tunnelclient
