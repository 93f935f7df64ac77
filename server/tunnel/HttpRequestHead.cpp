// HttpRequestHead.cpp - request line and authority parsing, and the origin-form rewrite.
#include "server/tunnel/HttpRequestHead.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tether::tunnelclient {

namespace {

bool startsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

// "host:port", "[v6]:port" or "host" (default port).
bool splitAuthority(std::string_view authority, std::uint16_t defaultPort, std::string& host,
                    std::uint16_t& port) {
  port = defaultPort;
  std::string_view portText;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      portText = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) portText = authority.substr(colon + 1);
  }
  if (!portText.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), value);
    if (ec != std::errc() || end != portText.data() + portText.size() || value == 0 || value > 65535)
      return false;
    port = static_cast<std::uint16_t>(value);
  }
  return !host.empty();
}

}  // namespace

ProxyRequestResult parseProxyHead(std::string_view head) {
  const auto lineEnd = head.find("\r\n");
  if (lineEnd == std::string_view::npos) return {std::nullopt, "no request line"};
  const std::string_view line = head.substr(0, lineEnd);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return {std::nullopt, "malformed request line"};
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!startsWithIgnoreCase(version, "HTTP/")) return {std::nullopt, "not an HTTP request"};

  ProxyRequest request;
  if (method == "CONNECT") {
    request.connect = true;
    if (!splitAuthority(target, 443, request.host, request.port))
      return {std::nullopt, "bad CONNECT authority"};
    return {request, ""};
  }
  if (!startsWithIgnoreCase(target, "http://")) {
    return {std::nullopt, "a proxy request needs an absolute http:// URI (https goes through CONNECT)"};
  }
  const std::string_view rest = target.substr(7);
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (!splitAuthority(authority, 80, request.host, request.port)) return {std::nullopt, "bad URI authority"};

  // Origin form for the server; the proxy's own hop-by-hop headers stay here.
  std::string out;
  out.append(method).append(" ").append(path).append(" ").append(version).append("\r\n");
  std::string_view headers = head.substr(lineEnd + 2);
  while (!headers.empty()) {
    const auto end = headers.find("\r\n");
    if (end == std::string_view::npos || end == 0) break;
    const std::string_view header = headers.substr(0, end);
    headers.remove_prefix(end + 2);
    if (startsWithIgnoreCase(header, "proxy-connection:") ||
        startsWithIgnoreCase(header, "proxy-authorization:")) {
      continue;
    }
    out.append(header).append("\r\n");
  }
  out.append("\r\n");
  request.upstreamHead = std::move(out);
  return {request, ""};
}

}  // namespace tether::tunnelclient
