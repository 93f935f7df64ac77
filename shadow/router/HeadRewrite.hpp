// HeadRewrite.hpp - the heads the router writes (sans-io): a request head for the upstream and a response
// head for the client, each without the hop-by-hop fields of RFC 9110 §7.6.1. Body bytes are relayed
// unchanged, so the framing fields (Content-Length, Transfer-Encoding) stay as they came, except where
// the router re-frames an until-close response as chunked.
#pragma once

#include <string>

#include "protocol/http1/Message.hpp"

namespace tether::shadow::router {

// The response header that marks an answer from stable given because the lease's target refused.
inline constexpr const char* kRouteHeader = "tether-route";

// True when the request asks to switch protocols on this connection (and the router passes that on):
// `Connection: upgrade` with an `Upgrade` field, except `Upgrade: h2c`, which is served as HTTP/1.1.
bool asksUpgrade(const http1::RequestHead& head);

std::string upstreamRequestHead(const http1::RequestHead& head, bool upgrade);

struct ResponseHeadOptions {
  bool close = false;     // the client connection ends after this response: "Connection: close"
  bool chunked = false;   // an until-close body is re-framed as chunked
  bool fallback = false;  // stable answered for a lease whose target refused
  bool upgrade = false;   // a 101: keep Upgrade and say "Connection: upgrade"
};
std::string clientResponseHead(const http1::ResponseHead& head, const ResponseHeadOptions& options);

}  // namespace tether::shadow::router
