// OutboundPolicy.cpp - prefixes, NO_PROXY entries, and the route of a host.
#include "server/tunnel/OutboundPolicy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace tether::tunnelclient {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::string_view unbracketed(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

// The address's bytes and family; false when `text` is no address.
bool addressBytes(std::string_view text, std::array<std::uint8_t, 16>& bytes, bool& v4) {
  const std::string host(unbracketed(text));
  bytes.fill(0);
  if (::inet_pton(AF_INET, host.c_str(), bytes.data()) == 1) {
    v4 = true;
    return true;
  }
  if (::inet_pton(AF_INET6, host.c_str(), bytes.data()) == 1) {
    v4 = false;
    return true;
  }
  return false;
}

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  Cidr cidr;
  const auto slash = text.find('/');
  if (!addressBytes(text.substr(0, slash), cidr.bytes_, cidr.v4_)) return std::nullopt;
  const int full = cidr.v4_ ? 32 : 128;
  cidr.bits_ = full;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    cidr.bits_ = std::stoi(std::string(digits));
    if (cidr.bits_ > full) return std::nullopt;
  }
  return cidr;
}

bool Cidr::contains(std::string_view address) const {
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = true;
  if (!addressBytes(address, bytes, v4) || v4 != v4_) return false;
  for (int bit = 0; bit < bits_; ++bit) {
    const int mask = 0x80 >> (bit % 8);
    if ((bytes[bit / 8] & mask) != (bytes_[bit / 8] & mask)) return false;
  }
  return true;
}

bool Cidr::overlaps(const Cidr& other) const {
  if (v4_ != other.v4_) return false;
  const int bits = std::min(bits_, other.bits_);  // the shorter prefix decides
  for (int bit = 0; bit < bits; ++bit) {
    const int mask = 0x80 >> (bit % 8);
    if ((bytes_[bit / 8] & mask) != (other.bytes_[bit / 8] & mask)) return false;
  }
  return true;
}

std::string Cidr::toString() const {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v4_ ? AF_INET : AF_INET6, bytes_.data(), text, sizeof(text));
  return std::string(text) + "/" + std::to_string(bits_);
}

bool isAddressLiteral(std::string_view host) {
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = true;
  return addressBytes(host, bytes, v4);
}

std::optional<UpstreamProxy> UpstreamProxy::fromUrl(std::string_view url) {
  if (url.empty()) return std::nullopt;
  const auto scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    if (lower(url.substr(0, scheme)) != "http") return std::nullopt;  // socks and https proxies: not chained
    url.remove_prefix(scheme + 3);
  }
  url = url.substr(0, url.find('/'));
  UpstreamProxy proxy;
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    proxy.credentials = std::string(url.substr(0, at));
    url.remove_prefix(at + 1);
  }
  std::string_view host = url;
  std::uint16_t port = 80;
  const auto colon = url.rfind(':');
  const auto bracket = url.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = url.substr(0, colon);
    const auto digits = url.substr(colon + 1);
    unsigned value = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9' || value > 65535) return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (digits.empty() || value == 0 || value > 65535) return std::nullopt;
    port = static_cast<std::uint16_t>(value);
  }
  host = unbracketed(host);
  if (host.empty()) return std::nullopt;
  proxy.address = HostPort{std::string(host), port};
  return proxy;
}

bool UpstreamProxy::bypasses(std::string_view rawHost) const {
  const auto host = lower(unbracketed(rawHost));
  for (const auto& rawEntry : bypass) {
    auto entry = lower(rawEntry);
    if (entry == "*") return true;
    if (entry.empty()) continue;
    if (isAddressLiteral(host)) {
      if (const auto cidr = Cidr::parse(entry); cidr && cidr->contains(host)) return true;
      continue;
    }
    if (entry.front() == '.') entry.erase(0, 1);
    if (entry.rfind("*.", 0) == 0) entry.erase(0, 2);
    if (host == entry || endsWith(host, "." + entry)) return true;
  }
  return false;
}

Via OutboundPolicy::outside(std::string_view host) const {
  if (upstream && !upstream->bypasses(host)) return Via::Upstream;
  return Via::Direct;
}

Via OutboundPolicy::route(std::string_view rawHost) const {
  const auto host = lower(unbracketed(rawHost));
  if (isAddressLiteral(host)) {
    if (Cidr::parse("127.0.0.0/8")->contains(host) || host == "::1") return Via::Direct;
    if (clusterRanges.empty()) return Via::Tunnel;
    for (const auto& range : clusterRanges) {
      if (range.contains(host)) return Via::Tunnel;
    }
    return outside(host);
  }
  if (host == "localhost" || endsWith(host, ".localhost")) return Via::Direct;
  if (host.find('.') == std::string::npos) return Via::Tunnel;  // the pod's search path resolves it
  const std::string domain = lower(clusterDomain);
  if (!domain.empty() && (host == domain || endsWith(host, "." + domain))) return Via::Tunnel;
  if (endsWith(host, ".svc")) return Via::Tunnel;
  const std::string ns = lower(namespaceName);
  if (!ns.empty() && (endsWith(host, "." + ns) || endsWith(host, "." + ns + ".svc"))) return Via::Tunnel;
  return outside(host);
}

NameScope nameScope(std::string_view rawName, const std::vector<std::string>& search) {
  const auto name = lower(rawName);
  if (name.empty() || isAddressLiteral(name)) return NameScope::Outside;
  if (name == "localhost" || endsWith(name, ".localhost")) return NameScope::Outside;
  if (endsWith(name, ".svc")) return NameScope::Cluster;
  for (const auto& rawDomain : search) {
    const auto domain = lower(rawDomain);
    if (!domain.empty() && (name == domain || endsWith(name, "." + domain))) return NameScope::Cluster;
  }
  const auto dot = name.find('.');
  if (dot == std::string::npos || name.find('.', dot + 1) == std::string::npos) return NameScope::Maybe;
  return NameScope::Outside;
}

std::vector<Cidr> rangesAround(const std::vector<std::string>& addresses) {
  std::vector<Cidr> ranges;
  for (const auto& address : addresses) {
    if (!isAddressLiteral(address)) continue;
    const bool v4 = address.find(':') == std::string::npos;
    const auto range = Cidr::parse(address + (v4 ? "/16" : "/64"));
    if (!range) continue;
    // Normalise to the network address so equal ranges compare equal as text.
    std::array<std::uint8_t, 16> bytes{};
    bool family = true;
    addressBytes(address, bytes, family);
    const int bits = v4 ? 16 : 64;
    for (int bit = bits; bit < (v4 ? 32 : 128); ++bit)
      bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
    char text[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(v4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof(text));
    const auto network = Cidr::parse(std::string(text) + "/" + std::to_string(bits));
    bool known = false;
    for (const auto& existing : ranges) known = known || existing.toString() == network->toString();
    if (!known) ranges.push_back(*network);
  }
  return ranges;
}

std::string RouteOverlap::describe() const {
  return range.toString() + " overlaps your route " + route.toString() + " on " + device;
}

std::vector<RouteOverlap> overlapsWithRoutes(const std::vector<Cidr>& ranges, std::string_view procNetRoute) {
  std::vector<RouteOverlap> found;
  std::size_t at = procNetRoute.find('\n');  // the first line names the columns
  while (at != std::string_view::npos && at + 1 < procNetRoute.size()) {
    const auto end = procNetRoute.find('\n', at + 1);
    const std::string line(procNetRoute.substr(at + 1, end == std::string_view::npos ? end : end - at - 1));
    at = end;
    // Iface Destination Gateway Flags RefCnt Use Metric Mask ... (addresses in hex, network byte order as
    // read)
    std::vector<std::string> fields;
    std::size_t from = 0;
    while (from < line.size()) {
      while (from < line.size() && (line[from] == ' ' || line[from] == '\t')) ++from;
      auto to = from;
      while (to < line.size() && line[to] != ' ' && line[to] != '\t') ++to;
      if (to > from) fields.push_back(line.substr(from, to - from));
      from = to;
    }
    if (fields.size() < 8 || fields[0] == "lo") continue;
    // A reject route (unreachable, blackhole, prohibit: flag 0x0200, no device) is no network one reaches.
    constexpr unsigned long kRejectFlag = 0x0200;
    if (fields[0] == "*" || (std::strtoul(fields[3].c_str(), nullptr, 16) & kRejectFlag) != 0) continue;
    const auto destination = static_cast<std::uint32_t>(std::strtoul(fields[1].c_str(), nullptr, 16));
    const auto mask = static_cast<std::uint32_t>(std::strtoul(fields[7].c_str(), nullptr, 16));
    if (mask == 0) continue;  // the default route covers everything; it is no local network
    int bits = 0;
    for (std::uint32_t m = mask; m != 0; m >>= 1) bits += static_cast<int>(m & 1u);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &destination, text, sizeof(text));  // already in network order in memory
    const auto route = Cidr::parse(std::string(text) + "/" + std::to_string(bits));
    if (!route) continue;
    for (const auto& range : ranges) {
      if (range.overlaps(*route)) found.push_back(RouteOverlap{range, *route, fields[0]});
    }
  }
  return found;
}

std::vector<Cidr> narrowedToKnown(const std::vector<Cidr>& ranges, const std::vector<RouteOverlap>& overlaps,
                                  const std::vector<std::string>& known) {
  std::vector<Cidr> narrowed;
  std::vector<std::string> seen;  // as text, so an address in two overlapping ranges is kept once
  const auto keep = [&](const Cidr& cidr) {
    const auto text = cidr.toString();
    if (std::find(seen.begin(), seen.end(), text) != seen.end()) return;
    seen.push_back(text);
    narrowed.push_back(cidr);
  };
  for (const auto& range : ranges) {
    const auto text = range.toString();
    const bool overlapped = std::any_of(overlaps.begin(), overlaps.end(),
                                        [&](const RouteOverlap& o) { return o.range.toString() == text; });
    if (!overlapped) {
      keep(range);
      continue;
    }
    for (const auto& address : known) {
      if (!range.contains(address)) continue;
      if (auto exact = Cidr::parse(address)) keep(*exact);
    }
  }
  return narrowed;
}

std::optional<UpstreamProxy> developerProxy(const std::map<std::string, std::string>& environment) {
  const auto value = [&](const char* key) {
    const auto found = environment.find(key);
    return found == environment.end() ? std::string() : found->second;
  };
  std::optional<UpstreamProxy> proxy;
  for (const char* key : {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"}) {
    if (!value(key).empty()) {
      proxy = UpstreamProxy::fromUrl(value(key));
      break;
    }
  }
  if (!proxy) return std::nullopt;
  std::string list = value("NO_PROXY").empty() ? value("no_proxy") : value("NO_PROXY");
  std::size_t at = 0;
  while (at <= list.size()) {
    const auto comma = list.find(',', at);
    auto entry = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    while (!entry.empty() && entry.front() == ' ') entry.erase(0, 1);
    while (!entry.empty() && entry.back() == ' ') entry.pop_back();
    if (!entry.empty()) proxy->bypass.push_back(entry);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return proxy;
}

const char* toString(Via via) {
  switch (via) {
    case Via::Tunnel:
      return "tunnel";
    case Via::Direct:
      return "direct";
    case Via::Upstream:
      return "upstream proxy";
  }
  return "tunnel";
}

}  // namespace tether::tunnelclient
