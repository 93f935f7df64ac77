// ProxyRequest.hpp - what the local HTTP proxy does with one request head, sans-io: CONNECT host:port
// becomes a tunnel; an absolute-form request (`GET http://orders.ns:8080/path HTTP/1.1`) is forwarded to its
// host in origin form, with the proxy's hop-by-hop fields removed and Host taken from the URI (RFC 9112
// §3.2.2). Every request of a keep-alive connection is planned on its own, so two requests for two hosts
// go to two Services. The response side rewrites the upstream's head for the client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "protocol/http1/Body.hpp"
#include "protocol/http1/Message.hpp"

namespace tether::tunnelclient {

struct ProxyTarget {
  std::string host;
  std::uint16_t port = 80;
  std::string key() const { return host + ":" + std::to_string(port); }
};

struct ProxyPlan {
  bool connect = false;  // CONNECT: the connection becomes a tunnel to `target` once it is open
  ProxyTarget target;
  std::string method;
  std::string upstreamHead;       // absolute-form requests: the head to send upstream, origin form
  http1::BodyFraming body;        // the request body that follows the head
  bool clientKeepsAlive = false;  // another request may follow on the client's connection
  bool upgrade = false;           // asks to switch protocols (WebSocket): a 101 makes it a tunnel
};

struct ProxyPlanResult {
  std::optional<ProxyPlan> plan;
  int status = 400;  // when refused: the status to answer with
  std::string error;
};

ProxyPlanResult planRequest(const http1::RequestHead& head);

// "host:port", "[v6]:port" or "host" (then `defaultPort`); false when malformed or the port is 0.
bool splitAuthority(std::string_view authority, std::uint16_t defaultPort, ProxyTarget& target);

// The head sent to the client for an upstream response: the proxy's own status line, the upstream's
// end-to-end fields, and `Connection: close` when the client's connection ends after it. For a 101 the
// upgrade fields are kept, since the connection then carries the new protocol end to end.
std::string clientResponseHead(const http1::ResponseHead& head, bool closeAfter);

// A short text/plain answer from the proxy itself, always with `Connection: close` unless `keepAlive`.
std::string proxyAnswer(int status, const std::string& message, bool keepAlive = false,
                        const std::string& extraFields = "");

}  // namespace tether::tunnelclient
