// Main.cpp - tether-tunnel: the backend side of the tunnel as a stand-alone process, attached to a plain
// TCP address (integration tests, benchmarks, or a manual `kubectl port-forward`). The session layer
// uses the same TunnelClient with a port-forward Connector instead.
//
//   TETHER_TOKEN=... tether-tunnel --connect 127.0.0.1:7700 --reverse 8080:3000 --socks 1080 --http-proxy
//   3128 --dns 5353
//
// Logs (logfmt) go to stderr; state changes are also printed to stdout as `state=<name> detail="…"` lines
// so a parent process can follow them. TETHER_PROXY_CREDENTIALS=user:password makes the proxies require
// those credentials, as a session's proxies do.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <vector>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/DnsForwarder.hpp"
#include "server/tunnel/HttpProxy.hpp"
#include "server/tunnel/MixedProxy.hpp"
#include "server/tunnel/PortForwarder.hpp"
#include "server/tunnel/PreloadService.hpp"
#include "server/tunnel/ProxyConfig.hpp"
#include "server/tunnel/Socks5Proxy.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace {

using namespace tether::tunnelclient;

struct Args {
  std::string host;
  std::uint16_t port = 0;
  std::vector<Forward> forwards;
  std::optional<std::uint16_t> socks;
  std::optional<std::uint16_t> httpProxy;
  std::optional<std::uint16_t> mixed;  // --proxy: HTTP, SOCKS5 and SOCKS4a on one port (a session's)
  // --forward LOCAL=HOST:PORT: `tether forward`'s fixed dial (the tunnel alone, for benchmarks).
  std::optional<std::uint16_t> forwardPort;
  std::string preloadSocket;  // --preload SOCKET: the LD_PRELOAD shim's service (benchmarks)
  std::string forwardHost;
  std::uint16_t forwardTarget = 0;
  std::optional<std::uint16_t> dns;
  std::size_t maxAttempts = 0;
  ProxyConfig proxy;  // --proxy-handshake-timeout MS, --proxy-max-clients N (tests of the bounds)
  std::string logLevel = "info";
};

std::optional<std::uint16_t> port(std::string_view text) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

std::optional<Args> parse(int argc, char** argv, std::string& error) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      error = flag + " needs a value";
      return std::nullopt;
    }
    const std::string value = argv[++i];
    const auto colon = value.rfind(':');
    if (flag == "--connect" && colon != std::string::npos && port(value.substr(colon + 1))) {
      a.host = value.substr(0, colon);
      a.port = *port(value.substr(colon + 1));
    } else if ((flag == "--reverse" || flag == "--reverse-proxy-protocol") && colon != std::string::npos &&
               port(value.substr(0, colon)) && port(value.substr(colon + 1))) {
      // --reverse-proxy-protocol: each forwarded connection starts with a PROXY v1 line.
      a.forwards.push_back(Forward{*port(value.substr(0, colon)), *port(value.substr(colon + 1)),
                                   flag == "--reverse-proxy-protocol"});
    } else if (flag == "--socks" && port(value)) {
      a.socks = port(value);
    } else if (flag == "--http-proxy" && port(value)) {
      a.httpProxy = port(value);
    } else if (flag == "--preload") {
      a.preloadSocket = value;
    } else if (flag == "--proxy" && port(value)) {
      a.mixed = port(value);
    } else if (flag == "--forward" && value.find('=') != std::string::npos && colon != std::string::npos &&
               colon > value.find('=') && port(value.substr(0, value.find('='))) &&
               port(value.substr(colon + 1))) {
      a.forwardPort = port(value.substr(0, value.find('=')));
      a.forwardHost = value.substr(value.find('=') + 1, colon - value.find('=') - 1);
      a.forwardTarget = *port(value.substr(colon + 1));
    } else if (flag == "--dns" && port(value)) {
      a.dns = port(value);
    } else if (flag == "--proxy-handshake-timeout" && port(value)) {
      a.proxy.handshakeTimeout = std::chrono::milliseconds(*port(value));
    } else if (flag == "--proxy-max-clients" && port(value)) {
      a.proxy.maxClients = *port(value);
    } else if (flag == "--max-attempts" && port(value)) {
      a.maxAttempts = *port(value);
    } else if (flag == "--log-level") {
      a.logLevel = value;
    } else {
      error = "bad flag or value: " + flag + " " + value;
      return std::nullopt;
    }
  }
  if (a.host.empty()) {
    error = "--connect HOST:PORT is required";
    return std::nullopt;
  }
  return a;
}

class PrintingObserver final : public TunnelObserver {
 public:
  void onState(TunnelState state, const std::string& detail) override {
    std::cout << "state=" << toString(state) << " detail=\"" << detail << "\"" << std::endl;
  }
  void onListener(const tether::tunnel::ListenResult& result) override {
    std::cout << "listener port=" << result.port << " code=\"" << tether::tunnel::toString(result.code)
              << "\" detail=\"" << result.message << "\"" << std::endl;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  auto args = parse(argc, argv, error);
  const char* token = std::getenv("TETHER_TOKEN");
  if (!args || !token) {
    std::cerr << "tether-tunnel: " << (args ? "TETHER_TOKEN is not set" : error) << "\n"
              << "usage: TETHER_TOKEN=... tether-tunnel --connect HOST:PORT [--reverse[-proxy-protocol] "
                 "REMOTE:LOCAL]... [--socks "
                 "PORT]\n"
                 "                     [--http-proxy PORT] [--proxy PORT] [--forward LOCAL=HOST:PORT] [--dns "
                 "PORT]\n"
                 "                     [--preload SOCKET] [--max-attempts N]\n"
                 "                     [--log-level LEVEL]\n"
                 "                     [--proxy-handshake-timeout MS] [--proxy-max-clients N]\n";
    return 2;
  }
  auto logger = spdlog::stderr_logger_mt("tether-tunnel");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(args->logLevel));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);

  boost::asio::io_context ioc(1);
  auto executor = ioc.get_executor();
  ClientConfig config;
  config.forwards = args->forwards;
  config.maxAttempts = args->maxAttempts;
  config.connection.peerName = "tether-tunnel";
  PrintingObserver observer;
  auto shared = std::make_shared<TunnelClient>(
      executor, tcpConnector(executor, args->host, args->port, config.connectTimeout), token, config,
      observer);
  auto& client = *shared;
  // TETHER_PROXY_CREDENTIALS=user:password makes the proxies ask for them, as a session's do; without it
  // they take any local client (tests and benchmarks that run as the only user).
  auto auth = ProxyAuth::none();
  if (const char* credentials = std::getenv("TETHER_PROXY_CREDENTIALS"); credentials != nullptr) {
    const std::string text = credentials;
    const auto colon = text.find(':');
    auth = ProxyAuth(
        ProxyCredentials{text.substr(0, colon), colon == std::string::npos ? "" : text.substr(colon + 1)});
  }
  auto socksProxy = std::make_shared<Socks5Proxy>(shared, auth, args->proxy);
  auto httpProxy = std::make_shared<HttpProxy>(shared, auth, args->proxy);
  auto mixedProxy = std::make_shared<MixedProxy>(shared, auth, args->proxy);
  auto& socks = *socksProxy;
  auto& http = *httpProxy;
  auto& mixed = *mixedProxy;
  auto forwarder = std::make_shared<PortForwarder>(
      shared, args->forwardHost, args->forwardTarget, [](const std::string&) {}, args->proxy);
  DnsForwarder dns(client);
  auto bindOrDie = [&](auto& server, std::optional<std::uint16_t> port, const char* what) {
    if (!port) return true;
    std::string bindError;
    if (!server.bind(*port, bindError)) {
      spdlog::error("event=bind_failed what={} error=\"{}\"", what, bindError);
      return false;
    }
    std::cout << "serving what=" << what << " port=" << server.port() << std::endl;
    return true;
  };
  if (!bindOrDie(socks, args->socks, "socks5") || !bindOrDie(http, args->httpProxy, "http-proxy") ||
      !bindOrDie(mixed, args->mixed, "proxy") || !bindOrDie(*forwarder, args->forwardPort, "forward") ||
      !bindOrDie(dns, args->dns, "dns")) {
    return 2;
  }
  if (args->socks) tether::tunnel::spawnLogged(executor, socks.serve(), "socks5 proxy");
  if (args->httpProxy) tether::tunnel::spawnLogged(executor, http.serve(), "http proxy");
  if (args->mixed) tether::tunnel::spawnLogged(executor, mixed.serve(), "proxy");
  if (args->forwardPort) tether::tunnel::spawnLogged(executor, forwarder->serve(), "forward");
  std::shared_ptr<PreloadService> preload;
  if (!args->preloadSocket.empty()) {
    preload = std::make_shared<PreloadService>(shared, PreloadConfig{}, args->proxy);
    std::string preloadError;
    if (!preload->listen(args->preloadSocket, preloadError)) {
      spdlog::error("event=bind_failed what=preload error=\"{}\"", preloadError);
      return 2;
    }
    std::cout << "serving what=preload port=" << preload->port() << std::endl;
    tether::tunnel::spawnLogged(executor, preload->serveRequests(), "preload requests");
    tether::tunnel::spawnLogged(executor, preload->serveConnections(), "preload connections");
  }
  if (args->dns) {
    tether::tunnel::spawnLogged(executor, dns.serveUdp(), "dns udp");
    tether::tunnel::spawnLogged(executor, dns.serveTcp(), "dns tcp");
  }
  bool failed = false;
  boost::asio::co_spawn(executor, client.run(), [&](std::exception_ptr e) {
    failed = e != nullptr || client.state() == TunnelState::Failed;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& thrown) {
        spdlog::error("event=client_failed error=\"{}\"", thrown.what());
      }
    }
    socks.close();
    http.close();
    mixed.close();
    forwarder->close();
    if (preload) preload->close();
    dns.close();
    ioc.stop();
  });
  boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) client.stop();
  });
  ioc.run();
  return failed ? 3 : 0;
}
