// Options.cpp - flag parsing for tether-shadow.
#include "shadow/Options.hpp"

#include <algorithm>
#include <charconv>

namespace tether::shadow {

namespace {

std::optional<std::size_t> parseCount(const std::string& text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 1000000)
    return std::nullopt;
  return value;
}

std::optional<std::uint16_t> parsePort(const std::string& text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(const std::string& text) {
  double value = 0;
  std::size_t used = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return std::nullopt;
  }
  if (value < 0) return std::nullopt;
  const std::string unit = text.substr(used);
  double factor = 0;
  if (unit.empty() || unit == "s")
    factor = 1000;
  else if (unit == "ms")
    factor = 1;
  else if (unit == "m")
    factor = 60000;
  else if (unit == "h")
    factor = 3600000;
  else
    return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(value * factor));
}

std::string usage() {
  return "usage: tether-shadow [--tunnel-port N] [--tunnel-host H] [--ready-port N] [--ready-host H]\n"
         "                     [--listen-host H] [--idle-ttl D] [--drain-timeout D] [--dial-timeout D]\n"
         "                     [--dns-server IP[:PORT]] [--dns-timeout D] [--keepalive-timeout D]\n"
         "                     [--max-listener-connections N] [--max-agent-streams N]\n"
         "                     [--max-client-streams N] [--max-dns-in-flight N]\n"
         "                     [--log-level trace|debug|info|warn|error|off] [--version]\n"
         "       tether-shadow --role router --route-port "
         "LISTEN=STABLE_HOST:PORT[/auto|http|h2c|tls|tcp]...\n"
         "                     [--control-port N] [--control-host H] [--listen-host H] [--sniff-timeout D]\n"
         "                     [--connect-timeout D] [--head-timeout D] [--keepalive-idle D]\n"
         "                     [--max-connections N] [--log-level L]\n"
         "The session role reads its token from TETHER_SHADOW_TOKEN and the pod's UID (announced in the\n"
         "handshake) from TETHER_POD_UID; the router role needs neither. Durations: 500ms, 30s, 10m, 1h.\n";
}

ParseResult parseOptions(const std::vector<std::string>& args, const char* tokenFromEnv,
                         const char* identityFromEnv) {
  Options o;
  if (identityFromEnv != nullptr) o.identity = identityFromEnv;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--version") {
      o.version = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      continue;
    }
    if (i + 1 >= args.size()) return {std::nullopt, flag + " needs a value"};
    const std::string& value = args[++i];
    auto port = [&](std::uint16_t& out) {
      auto p = parsePort(value);
      if (!p) return false;
      out = *p;
      return true;
    };
    auto count = [&](std::size_t& out) {
      auto n = parseCount(value);
      if (!n) return false;
      out = *n;
      return true;
    };
    auto duration = [&](std::chrono::milliseconds& out) {
      auto d = parseDuration(value);
      if (!d) return false;
      out = *d;
      return true;
    };
    bool ok = true;
    if (flag == "--role") {
      if (value != "session" && value != "router")
        return {std::nullopt, "--role is session or router, got " + value};
      o.role = value == "router" ? Role::Router : Role::Session;
    } else if (flag == "--route-port") {
      std::string error;
      auto routed = router::parseRoutedPort(value, error);
      if (!routed) return {std::nullopt, error};
      o.router.ports.push_back(*routed);
    } else if (flag == "--control-port")
      ok = port(o.router.controlPort);
    else if (flag == "--control-host")
      o.router.controlHost = value;
    else if (flag == "--sniff-timeout")
      ok = duration(o.router.sniffTimeout);
    else if (flag == "--connect-timeout")
      ok = duration(o.router.connectTimeout);
    else if (flag == "--head-timeout")
      ok = duration(o.router.headTimeout);
    else if (flag == "--keepalive-idle")
      ok = duration(o.router.keepAliveIdle);
    else if (flag == "--max-connections")
      ok = count(o.router.maxConnections);
    else if (flag == "--tunnel-port")
      ok = port(o.tunnelPort);
    else if (flag == "--tunnel-host")
      o.tunnelHost = value;
    else if (flag == "--ready-port")
      ok = port(o.readyPort);
    else if (flag == "--ready-host")
      o.readyHost = value;
    else if (flag == "--listen-host") {
      o.listenHost = value;
      o.router.listenHost = value;
    } else if (flag == "--idle-ttl")
      ok = duration(o.idleTtl);
    else if (flag == "--drain-timeout")
      ok = duration(o.drainTimeout);
    else if (flag == "--dial-timeout")
      ok = duration(o.dialTimeout);
    else if (flag == "--dns-timeout")
      ok = duration(o.dnsTimeout);
    else if (flag == "--keepalive-timeout")
      ok = duration(o.keepaliveTimeout);
    else if (flag == "--max-listener-connections")
      ok = count(o.maxListenerConnections);
    else if (flag == "--max-agent-streams")
      ok = count(o.maxAgentStreams);
    else if (flag == "--max-client-streams")
      ok = count(o.maxClientStreams);
    else if (flag == "--max-dns-in-flight")
      ok = count(o.maxDnsInFlight);
    else if (flag == "--dns-server")
      o.dnsServer = value;
    else if (flag == "--log-level")
      o.logLevel = value;
    else
      return {std::nullopt, "unknown flag " + flag};
    if (!ok) return {std::nullopt, "bad value for " + flag + ": " + value};
  }
  if (!o.version && !o.help && o.role == Role::Router) {
    o.router.readyHost = o.readyHost;
    o.router.readyPort = std::find(args.begin(), args.end(), "--ready-port") != args.end() ? o.readyPort : 0;
    if (o.router.ports.empty())
      return {std::nullopt, "the router role needs at least one --route-port LISTEN=STABLE_HOST:PORT"};
    return {o, ""};
  }
  if (!o.version && !o.help && !o.router.ports.empty())
    return {std::nullopt, "--route-port belongs to the router role: add --role router"};
  if (!o.version && !o.help) {
    if (!tokenFromEnv || std::string(tokenFromEnv).empty()) {
      return {std::nullopt,
              "TETHER_SHADOW_TOKEN is not set: the agent refuses to run without a session token"};
    }
    o.token = tokenFromEnv;
  }
  return {o, ""};
}

}  // namespace tether::shadow
