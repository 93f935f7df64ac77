// ProxyProtocol.cpp - address texts checked and written as the PROXY v1 line.
#include "server/tunnel/ProxyProtocol.hpp"

#include <boost/asio/ip/address.hpp>

#include <charconv>
#include <optional>

namespace tether::tunnelclient {

namespace {

struct Endpoint {
  boost::asio::ip::address address;
  unsigned port = 0;
};

std::optional<Endpoint> parse(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const auto portText = text.substr(colon + 1);
  Endpoint endpoint;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), endpoint.port);
  if (ec != std::errc() || end != portText.data() + portText.size() || endpoint.port > 65535)
    return std::nullopt;
  boost::system::error_code bad;
  endpoint.address = boost::asio::ip::make_address(std::string(host), bad);
  if (bad) return std::nullopt;
  return endpoint;
}

}  // namespace

std::string proxyProtocolV1(std::string_view peer, std::string_view local) {
  const auto source = parse(peer), destination = parse(local);
  if (!source || !destination || source->address.is_v4() != destination->address.is_v4()) {
    return "PROXY UNKNOWN\r\n";
  }
  return std::string("PROXY ") + (source->address.is_v4() ? "TCP4 " : "TCP6 ") + source->address.to_string() +
         " " + destination->address.to_string() + " " + std::to_string(source->port) + " " +
         std::to_string(destination->port) + "\r\n";
}

}  // namespace tether::tunnelclient
