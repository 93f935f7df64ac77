// ProxyConfig.hpp - bounds of the local proxies and the DNS forwarder, named in one place.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "server/tunnel/OutboundPolicy.hpp"

namespace tether::tunnelclient {

struct ProxyConfig {
  // SOCKS greeting and request, or an HTTP request head once its first byte came, plus the OPEN; longer than
  // the tunnel's openTimeout (10 s) so a slow OPEN is answered with its own reason rather than cut off.
  std::chrono::milliseconds handshakeTimeout{15000};
  // An HTTP client connection between requests (keep-alive), before the next head starts.
  std::chrono::milliseconds keepAliveTimeout{60000};
  // A request in progress whose client neither sends (its body) nor takes (the response) a byte.
  std::chrono::milliseconds clientIdleTimeout{600000};
  std::size_t maxHeadBytes = 64u * 1024u;  // an HTTP request or response head
  std::size_t maxIdleUpstreams = 4;        // upstream streams one HTTP client connection keeps for reuse
  std::size_t maxClients = 512;            // clients served at once by one proxy; more are closed at once
  // Closing a client connection: its unread bytes are read away for at most this long (and this many), so
  // the close is a FIN after the answer, not an RST that can destroy it.
  std::chrono::milliseconds closeDrainTimeout{1000};
  std::size_t closeDrainBytes = 1024u * 1024u;
  std::chrono::milliseconds dnsTcpIdleTimeout{30000};  // a DNS-over-TCP client that sends nothing
  // A connection to a host that is not the cluster's, made from this machine (resolve, connect, and the
  // CONNECT of the developer's own proxy).
  std::chrono::milliseconds outsideDialTimeout{10000};
  // What is the cluster's; null: everything goes through the tunnel (tether-tunnel, tests).
  std::shared_ptr<const OutboundPolicy> policy;
};

}  // namespace tether::tunnelclient
