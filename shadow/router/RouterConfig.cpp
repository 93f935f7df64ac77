// RouterConfig.cpp - the port flag's grammar.
#include "shadow/router/RouterConfig.hpp"

#include <charconv>

namespace tether::shadow::router {

namespace {

std::optional<std::uint16_t> port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string_view toString(PortProtocol protocol) {
  switch (protocol) {
    case PortProtocol::Sniff:
      return "auto";
    case PortProtocol::Http1:
      return "http";
    case PortProtocol::H2c:
      return "h2c";
    case PortProtocol::Tls:
      return "tls";
    case PortProtocol::Tcp:
      return "tcp";
  }
  return "auto";
}

std::optional<PortProtocol> portProtocolFrom(std::string_view text) {
  for (auto protocol :
       {PortProtocol::Sniff, PortProtocol::Http1, PortProtocol::H2c, PortProtocol::Tls, PortProtocol::Tcp}) {
    if (text == toString(protocol)) return protocol;
  }
  return std::nullopt;
}

std::optional<RoutedPort> parseRoutedPort(std::string_view text, std::string& error) {
  RoutedPort routed;
  const auto equals = text.find('=');
  const auto slash = text.find('/');
  const auto hostPort =
      text.substr(equals + 1, slash == std::string_view::npos ? std::string_view::npos : slash - equals - 1);
  const auto colon = hostPort.rfind(':');
  const auto listen = equals == std::string_view::npos ? std::nullopt : port(text.substr(0, equals));
  const auto stable = colon == std::string_view::npos ? std::nullopt : port(hostPort.substr(colon + 1));
  if (!listen || !stable || *stable == 0 || colon == 0 ||
      (slash != std::string_view::npos && slash < equals)) {
    error =
        "a routed port is LISTEN=STABLE_HOST:PORT[/auto|http|h2c|tls|tcp], got '" + std::string(text) + "'";
    return std::nullopt;
  }
  routed.listen = *listen;
  routed.stableHost = std::string(hostPort.substr(0, colon));
  routed.stablePort = *stable;
  if (slash != std::string_view::npos) {
    const auto protocol = portProtocolFrom(text.substr(slash + 1));
    if (!protocol) {
      error = "unknown port protocol '" + std::string(text.substr(slash + 1)) +
              "': expected auto, http, h2c, tls or tcp";
      return std::nullopt;
    }
    routed.protocol = *protocol;
  }
  return routed;
}

}  // namespace tether::shadow::router
