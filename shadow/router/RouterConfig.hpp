// RouterConfig.hpp - what the router role of tether-shadow serves and every bound it keeps. The backend
// writes the ports from the Service: each port the Service's selector now reaches on the router, the stable
// Service's name and port that take whatever no lease claims, and the protocol the port declares.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::shadow::router {

// What a port declares (its `appProtocol` or name); Sniff reads the first bytes to find out.
enum class PortProtocol { Sniff, Http1, H2c, Tls, Tcp };
std::string_view toString(PortProtocol protocol);
std::optional<PortProtocol> portProtocolFrom(std::string_view text);

struct RoutedPort {
  std::uint16_t listen = 0;  // 0 in tests: any free port
  std::string stableHost;    // the stable Service, e.g. orders-tether-stable.team.svc
  std::uint16_t stablePort = 0;
  PortProtocol protocol = PortProtocol::Sniff;
};

// "LISTEN=HOST:PORT[/PROTOCOL]"; nullopt with `error` naming what is wrong.
std::optional<RoutedPort> parseRoutedPort(std::string_view text, std::string& error);

struct RouterConfig {
  std::string listenHost = "0.0.0.0";     // Service traffic arrives on the pod IP
  std::string controlHost = "127.0.0.1";  // leases arrive through pods/portforward only
  std::uint16_t controlPort = 7702;
  // Readiness (the kubelet's probe): any HTTP GET answers 200 once every port is bound; 0: none.
  std::string readyHost = "0.0.0.0";
  std::uint16_t readyPort = 0;
  std::vector<RoutedPort> ports;

  std::chrono::milliseconds sniffTimeout{300};     // classify a connection on an undeclared port
  std::chrono::milliseconds headTimeout{10000};    // a request head, from its first byte
  std::chrono::milliseconds keepAliveIdle{60000};  // a client connection between requests
  std::chrono::milliseconds connectTimeout{1000};  // resolve and connect to a target or to stable
  std::chrono::milliseconds exchangeIdle{120000};  // no byte either way during a request/response
  std::chrono::milliseconds spliceIdle{3600000};   // a WebSocket, TLS or raw connection without traffic
  std::chrono::milliseconds controlIdle{60000};    // a control connection without a request
  std::chrono::milliseconds pooledIdle{30000};     // an idle upstream connection kept for reuse
  std::chrono::milliseconds pooledMaxAge{120000};  // any upstream connection (re-balances over pods)
  std::size_t pooledMaxRequests = 1000;            // requests per upstream connection
  std::size_t pooledPerTarget = 64;                // idle upstream connections kept per target
  std::size_t maxHeadBytes = 64u * 1024u;          // a request or response head: 431 / 502 beyond
  std::size_t maxConnections = 8192;               // client connections; more are closed at accept
};

}  // namespace tether::shadow::router
