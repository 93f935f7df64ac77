// HttpRequestHead.hpp - sans-io reading of a proxy request head: CONNECT host:port, or an absolute URI
// (`GET http://orders.ns:8080/path HTTP/1.1`) rewritten to origin form for the upstream server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::tunnelclient {

struct ProxyRequest {
  bool connect = false;
  std::string host;
  std::uint16_t port = 80;
  std::string upstreamHead;  // for absolute-URI requests: the head to send upstream (origin form)
};

struct ProxyRequestResult {
  std::optional<ProxyRequest> request;
  std::string error;  // why the head was refused (sent back as 400)
};

// `head` ends with the blank line ("\r\n\r\n").
ProxyRequestResult parseProxyHead(std::string_view head);

}  // namespace tether::tunnelclient
