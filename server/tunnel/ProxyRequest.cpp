// ProxyRequest.cpp - request planning, hop-by-hop field removal and the proxy's own answers.
#include "server/tunnel/ProxyRequest.hpp"

#include <algorithm>
#include <charconv>

namespace tether::tunnelclient {

namespace {

using http1::equalsIgnoreCase;

bool startsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equalsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// Fields that describe one hop and never go further (RFC 9110 §7.6.1), plus the proxy's own.
bool alwaysHopByHop(std::string_view name) {
  for (const char* hop : {"Connection", "Proxy-Connection", "Keep-Alive", "TE", "Upgrade",
                          "Proxy-Authorization", "Proxy-Authenticate"}) {
    if (equalsIgnoreCase(name, hop)) return true;
  }
  return false;
}

// Fields that frame the message. Listing them in Connection must not make a proxy drop them: the next
// hop would then read the body differently from the client, which is how requests are smuggled.
bool framesTheMessage(std::string_view name) {
  return equalsIgnoreCase(name, "Content-Length") || equalsIgnoreCase(name, "Transfer-Encoding") ||
         equalsIgnoreCase(name, "Host");
}

// The end-to-end fields of `headers`: without hop-by-hop ones and without those the Connection field names.
http1::Headers endToEnd(const http1::Headers& headers) {
  const auto listed = http1::tokens(headers, "Connection");
  http1::Headers out;
  for (const auto& header : headers) {
    if (alwaysHopByHop(header.name)) continue;
    const bool named = std::any_of(listed.begin(), listed.end(), [&](const std::string& token) {
      return equalsIgnoreCase(token, header.name);
    });
    if (named && !framesTheMessage(header.name)) continue;
    out.push_back(header);
  }
  return out;
}

std::string reasonFor(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 407:
      return "Proxy Authentication Required";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

}  // namespace

bool splitAuthority(std::string_view authority, std::uint16_t defaultPort, ProxyTarget& target) {
  target.port = defaultPort;
  std::string_view portText;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    target.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      portText = authority.substr(close + 2);
      if (portText.empty()) return false;
    }
  } else {
    const auto colon = authority.rfind(':');
    target.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      portText = authority.substr(colon + 1);
      if (portText.empty()) return false;
    }
  }
  if (!portText.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), value);
    if (ec != std::errc() || end != portText.data() + portText.size() || value == 0 || value > 65535)
      return false;
    target.port = static_cast<std::uint16_t>(value);
  }
  return !target.host.empty() && target.host.find_first_of(" @/") == std::string::npos;
}

ProxyPlanResult planRequest(const http1::RequestHead& head) {
  ProxyPlan plan;
  plan.method = head.method;
  // HTTP/1.0 clients get one request per connection: keeping a 1.0 connection alive needs a length on
  // every response, which the server behind may not give.
  plan.clientKeepsAlive = head.versionMinor >= 1 && http1::keepsAlive(head.versionMinor, head.headers);
  if (head.method == "CONNECT") {
    plan.connect = true;
    if (!splitAuthority(head.target, 443, plan.target))
      return {std::nullopt, 400, "bad CONNECT authority \"" + head.target + "\" (expected host:port)"};
    return {std::move(plan), 0, ""};
  }
  if (startsWithIgnoreCase(head.target, "https://")) {
    return {std::nullopt, 400, "https:// requests go through CONNECT (set HTTPS_PROXY, not a plain request)"};
  }
  if (!startsWithIgnoreCase(head.target, "http://")) {
    return {std::nullopt, 400,
            "this is a proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port"};
  }
  auto framing = http1::requestFraming(head);
  if (!framing.framing) return {std::nullopt, 400, framing.error};
  plan.body = *framing.framing;

  std::string_view rest = std::string_view(head.target).substr(7);
  const auto pathStart = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, pathStart);
  std::string path = pathStart == std::string_view::npos ? "/" : std::string(rest.substr(pathStart));
  if (!path.empty() && path.front() == '?') path.insert(0, "/");
  // userinfo in a request target is deprecated (RFC 9110 §4.2.4) and is never forwarded.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (!splitAuthority(authority, 80, plan.target))
    return {std::nullopt, 400, "bad host in \"" + head.target.substr(0, 200) + "\""};

  // A request that switches protocols has no body: what follows its head belongs to the new protocol.
  plan.upgrade = http1::hasToken(head.headers, "Connection", "upgrade") &&
                 http1::find(head.headers, "Upgrade") && plan.body.kind == http1::BodyFraming::Kind::None;
  std::string out = head.method + " " + path + " HTTP/1." + std::to_string(head.versionMinor) + "\r\n";
  out += "Host: " + std::string(authority) + "\r\n";
  http1::Headers fields;
  for (auto& header : endToEnd(head.headers)) {
    if (!equalsIgnoreCase(header.name, "Host")) fields.push_back(std::move(header));
  }
  http1::appendHeaders(out, fields);
  if (plan.upgrade) {
    out += "Connection: upgrade\r\nUpgrade: " + http1::find(head.headers, "Upgrade")->value + "\r\n";
  } else if (!plan.clientKeepsAlive && head.versionMinor >= 1) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  plan.upstreamHead = std::move(out);
  return {std::move(plan), 0, ""};
}

std::string clientResponseHead(const http1::ResponseHead& head, bool closeAfter) {
  // With Transfer-Encoding, Content-Length is removed (RFC 9112 §6.3: an intermediary MUST), so a client
  // that would trust it cannot frame the body differently from us.
  http1::Headers fields = endToEnd(head.headers);
  if (http1::find(head.headers, "Transfer-Encoding") != nullptr) {
    std::erase_if(fields, [](const http1::Header& h) { return equalsIgnoreCase(h.name, "Content-Length"); });
  }
  std::string out =
      "HTTP/1.1 " + std::to_string(head.status) + (head.reason.empty() ? "" : " " + head.reason) + "\r\n";
  http1::appendHeaders(out, fields);
  if (head.status == 101) {
    if (const auto* upgrade = http1::find(head.headers, "Upgrade"))
      out += "Connection: upgrade\r\nUpgrade: " + upgrade->value + "\r\n";
  } else if (closeAfter && head.status >= 200) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  return out;
}

std::string proxyAnswer(int status, const std::string& message, bool keepAlive,
                        const std::string& extraFields) {
  const std::string body = "tether: " + message + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + reasonFor(status) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extraFields + (keepAlive ? "" : "Connection: close\r\n") + "\r\n" + body;
}

}  // namespace tether::tunnelclient
