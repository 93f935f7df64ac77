// NamespaceHost.hpp - the session's end of `tether netns-exec`: a Unix socket the wrappers connect to,
// and, for each wrapper, the sockets it made inside its namespace put to work:
//   - its redirect listener, served by a TransparentProxy (every TCP connect of the program goes through
//     the tunnel, whatever the program is: a static Go binary, nc, a JVM with Netty);
//   - its 127.0.0.1:53 (UDP and TCP), served by a DnsForwarder (names resolve as in a pod);
//   - the session's local ports and the wrapper's --forward ports (a debugger's), listened on here on the
//     host's 127.0.0.1 and carried in: each connection asks the wrapper for a socket connected to the same
//     port on the namespace's loopback, where the program listens.
//
// Lifetime: shared (std::make_shared); the accept loop and every link hold it. Everything runs on the
// tunnel client's executor; close() must be called there.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::netns {

struct NamespaceConfig {
  // The pod's resolver search path ("ns.svc.cluster.local", "svc.cluster.local", "cluster.local").
  std::vector<std::string> search;
  // The session's local ports (inbound traffic), carried into every namespace.
  std::vector<std::uint16_t> inboundPorts;
  // A wrapper's hello, and then its sockets (it runs `ip` and `nft` in between).
  std::chrono::milliseconds setupTimeout{30000};
  // A connection carried in waits this long for the wrapper's socket to the program.
  std::chrono::milliseconds dialTimeout{5000};
  std::size_t maxLinks = 32;                     // wrappers attached at once
  std::chrono::milliseconds acceptBackoff{100};  // after a failed accept (out of descriptors)
  // Bounds and routes of the namespace's redirected connections and DNS (the session's OutboundPolicy).
  tunnelclient::ProxyConfig proxy;
};

// A path for a private Unix socket named `name`: in $XDG_RUNTIME_DIR/tether, else /tmp/tether-<uid>, a
// directory made 0700 and checked to be this user's alone. Empty with `error` when there is none.
std::string privateSocketPath(const std::string& name, std::string& error);

// `tether netns-exec --control PATH --`: what goes before a command to run it in a namespace joined to the
// session listening on PATH (this executable's own path first).
std::vector<std::string> wrapperCommand(const std::string& controlPath);

class NamespaceHost : public std::enable_shared_from_this<NamespaceHost> {
 public:
  NamespaceHost(std::shared_ptr<tunnelclient::TunnelClient> tunnel, NamespaceConfig config);
  ~NamespaceHost();
  NamespaceHost(const NamespaceHost&) = delete;
  NamespaceHost& operator=(const NamespaceHost&) = delete;

  // Listens on the Unix socket `path` (mode 0600; its directory must be private). False with `error`.
  bool listen(const std::string& path, std::string& error);
  const std::string& path() const { return path_; }
  boost::asio::awaitable<void> serve();
  // Closes the listener and every link (each wrapper then asks its command to end) and removes the path.
  void close();
  // Whether a program inside an attached namespace accepts on 127.0.0.1:port there (the session's "is the
  // local process listening yet", which this machine's own 127.0.0.1 cannot answer: the carried-in
  // listener is there from the start).
  boost::asio::awaitable<bool> listeningInside(std::uint16_t port);

 private:
  struct Link;
  static boost::asio::awaitable<void> runLink(std::shared_ptr<NamespaceHost> self,
                                              std::shared_ptr<Link> link);
  // A socket connected to `port` inside the link's namespace, or -1 (`answered`: the wrapper said no).
  static boost::asio::awaitable<int> dialInside(std::shared_ptr<Link> link, std::uint16_t port,
                                                bool& answered);
  static boost::asio::awaitable<void> carryIn(std::shared_ptr<Link> link, std::uint16_t port,
                                              boost::asio::ip::tcp::socket client);

  std::shared_ptr<tunnelclient::TunnelClient> tunnel_;
  NamespaceConfig config_;
  std::string path_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> accepting_;
  std::set<std::shared_ptr<Link>> links_;
};

}  // namespace tether::netns
