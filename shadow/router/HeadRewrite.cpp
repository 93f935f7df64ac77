// HeadRewrite.cpp - hop-by-hop fields out, the router's own connection fields in.
#include "shadow/router/HeadRewrite.hpp"

#include <algorithm>
#include <vector>

namespace tether::shadow::router {

namespace {

// Fields that describe one connection, not the message (RFC 9110 §7.6.1, plus the de-facto
// Proxy-Connection and Keep-Alive), and HTTP2-Settings, which only means something with Upgrade: h2c.
bool hopByHop(const std::string& name, const std::vector<std::string>& listed, bool upgrade) {
  for (const char* field : {"connection", "keep-alive", "proxy-connection", "te", "http2-settings"}) {
    if (http1::equalsIgnoreCase(name, field)) return true;
  }
  if (http1::equalsIgnoreCase(name, "upgrade")) return !upgrade;
  if (http1::equalsIgnoreCase(name, "trailer")) return false;  // announces trailers end to end
  return std::any_of(listed.begin(), listed.end(), [&](const std::string& token) {
    return http1::equalsIgnoreCase(name, token) && !(upgrade && token == "upgrade");
  });
}

void appendEndToEnd(std::string& out, const http1::Headers& headers, bool upgrade) {
  const auto listed = http1::tokens(headers, "Connection");
  for (const auto& field : headers) {
    if (hopByHop(field.name, listed, upgrade)) continue;
    out += field.name;
    out += ": ";
    out += field.value;
    out += "\r\n";
  }
}

}  // namespace

bool asksUpgrade(const http1::RequestHead& head) {
  const auto* upgrade = http1::find(head.headers, "Upgrade");
  return upgrade != nullptr && head.versionMinor >= 1 &&
         http1::hasToken(head.headers, "Connection", "upgrade") &&
         !http1::equalsIgnoreCase(upgrade->value, "h2c");
}

std::string upstreamRequestHead(const http1::RequestHead& head, bool upgrade) {
  std::string out;
  out.reserve(256);
  out += head.method;
  out += ' ';
  out += head.target;
  out += head.versionMinor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  appendEndToEnd(out, head.headers, upgrade);
  // A client's `TE: trailers` says it accepts trailers, which a gRPC-Web or HTTP/1 streaming server may
  // need to hear; every other TE value is about this hop.
  if (http1::hasToken(head.headers, "TE", "trailers")) out += "TE: trailers\r\n";
  if (upgrade) out += "Connection: upgrade\r\n";
  out += "\r\n";
  return out;
}

std::string clientResponseHead(const http1::ResponseHead& head, const ResponseHeadOptions& options) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(head.status);
  out += ' ';
  out += head.reason;
  out += "\r\n";
  appendEndToEnd(out, head.headers, options.upgrade);
  if (options.chunked) out += "Transfer-Encoding: chunked\r\n";
  if (options.fallback) out += std::string(kRouteHeader) + ": fallback\r\n";
  if (options.upgrade) out += "Connection: upgrade\r\n";
  if (options.close) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

}  // namespace tether::shadow::router
