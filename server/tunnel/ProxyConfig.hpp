// ProxyConfig.hpp - bounds of the local proxies and the DNS forwarder, named in one place.
#pragma once

#include <chrono>
#include <cstddef>

namespace tether::tunnelclient {

struct ProxyConfig {
  // SOCKS greeting and request, or an HTTP request head, plus the OPEN; longer than the tunnel openTimeout
  // (10 s) so a slow OPEN is answered with its own reason rather than cut off.
  std::chrono::milliseconds handshakeTimeout{15000};
  std::size_t maxHeadBytes = 64u * 1024u;              // HTTP request head
  std::chrono::milliseconds dnsTcpIdleTimeout{30000};  // a DNS-over-TCP client that sends nothing
};

}  // namespace tether::tunnelclient
