// TransparentProxy.hpp - serves connections that were redirected to it (nftables `redirect` inside the
// debuggee's own network namespace): each one's original destination (SO_ORIGINAL_DST) becomes a tunnel
// stream the agent dials, so an unchanged program's `connect(10.96.0.5:6379)` reaches the cluster.
//
// The listener is adopted, not bound: it was made inside that namespace and handed over (server/netns).
// No credentials are asked: only the namespace's own processes can reach it. A destination the agent
// cannot reach resets the client's connection, which is what the program would have seen from the
// network (ECONNRESET on its first read, since its connect already completed locally).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>

#include "server/tunnel/LoopbackProxy.hpp"

namespace tether::tunnelclient {

// The destination a redirected connection was headed for, or nothing when the socket was not redirected.
std::optional<boost::asio::ip::tcp::endpoint> originalDestination(boost::asio::ip::tcp::socket& socket);

class TransparentProxy final : public LoopbackProxy {
 public:
  TransparentProxy(std::shared_ptr<TunnelClient> client, ProxyConfig config = {})
      : LoopbackProxy(std::move(client), ProxyAuth::none(), config, "transparent") {}

 private:
  boost::asio::awaitable<void> serveClient(boost::asio::ip::tcp::socket& socket) override;
};

}  // namespace tether::tunnelclient
