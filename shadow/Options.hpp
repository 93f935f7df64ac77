// Options.hpp - tether-shadow's flags and environment, parsed without I/O so they are unit-tested.
//
// The session token comes from the environment (TETHER_SHADOW_TOKEN, set from a Secret in the pod
// spec), never from the command line, where `ps` in any container of the pod would show it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shadow/router/RouterConfig.hpp"

namespace tether::shadow {

// The agent's two roles: `session` (one developer's tunnel: reverse listeners, outbound dials, DNS) and
// `router` (a meshed Service's per-request router; no tunnel and no token).
enum class Role { Session, Router };

struct Options {
  Role role = Role::Session;
  router::RouterConfig router;           // Role::Router
  std::string tunnelHost = "127.0.0.1";  // only port-forward reaches the pod's loopback
  std::uint16_t tunnelPort = 7700;
  std::string readyHost = "0.0.0.0";  // the kubelet probes the pod IP
  std::uint16_t readyPort = 7701;
  std::string listenHost = "0.0.0.0";  // reverse listeners (Service traffic arrives on the pod IP)
  std::chrono::milliseconds idleTtl{10 * 60 * 1000};
  std::chrono::milliseconds drainTimeout{5000};
  std::chrono::milliseconds dialTimeout{10000};
  std::chrono::milliseconds dnsTimeout{3000};
  std::chrono::milliseconds keepaliveTimeout{20000};
  std::string dnsServer;  // empty: the first nameserver of /etc/resolv.conf
  // Bounds on work the cluster or the client can make the agent do (each past it is refused at once).
  std::size_t maxListenerConnections = 1024;  // open connections per reverse listener
  std::size_t maxAgentStreams = 2048;         // streams the agent opens (listener connections, all listeners)
  std::size_t maxClientStreams = 2048;        // streams the client opens (the developer's outbound dials)
  std::size_t maxDnsInFlight = 256;           // DNS queries waiting for the nameserver
  std::string logLevel = "info";
  std::string token;
  std::string identity;  // TETHER_POD_UID (the downward API's metadata.uid), announced in the handshake
  bool version = false;
  bool help = false;
};

struct ParseResult {
  std::optional<Options> options;
  std::string error;
};

// `tokenFromEnv` is the value of TETHER_SHADOW_TOKEN and `identityFromEnv` of TETHER_POD_UID (nullptr when
// unset).
ParseResult parseOptions(const std::vector<std::string>& args, const char* tokenFromEnv,
                         const char* identityFromEnv = nullptr);
std::optional<std::chrono::milliseconds> parseDuration(const std::string& text);
std::string usage();

}  // namespace tether::shadow
