// LaunchEnv.hpp - the environment a session gives the local process so it can call the namespace's
// Services by name through the session's local proxies (no root, no DNS changes).
//
// Honoured by curl, wget, Python requests/httpx/urllib/aiohttp (trust_env), Go net/http, Node 24+ (through
// NODE_USE_ENV_PROXY) or older Node with a proxy agent, and the JVM through JDK_JAVA_OPTIONS. Not
// honoured: Node before 24 without an agent, raw sockets, gRPC-Java, most database drivers. PROTOCOL.md and
// the README repeat this list.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tether::session {

struct LaunchEnvInput {
  std::uint16_t proxyPort = 0;  // the session's one proxy port (HTTP, SOCKS5 and SOCKS4a alike)
  // "user:password" the proxies require; it goes into the proxy URLs (userinfo), from where clients that
  // honour the variables send it. Never logged.
  std::string proxyUserInfo;
  // tether-jvm-agent.jar, which answers the proxy's 407 for the JVM; empty when it was not found.
  std::string jvmAgent;
  std::vector<std::string> localNames;  // this host's own names, never sent through the proxy
  // The variables as they are now (JDK_JAVA_OPTIONS and NO_PROXY are extended, not replaced).
  std::map<std::string, std::string> current;
};

// HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY and their lower-case twins, NODE_USE_ENV_PROXY,
// JDK_JAVA_OPTIONS.
//
// Every proxy variable holds the same http:// URL. A socks5h:// URL in ALL_PROXY looks more general but
// breaks Python: httpx raises ImportError at client creation without socksio (even for NO_PROXY hosts) and
// requests fails every request without PySocks. The JVM gets JDK_JAVA_OPTIONS, read by the `java` launcher
// only, not JAVA_TOOL_OPTIONS, which every JVM the debuggee touches (javac, Gradle and its daemons, jps)
// reads and announces on stderr; an IDE that can set the run configuration's VM options should put them
// there instead.
std::map<std::string, std::string> launchEnvironment(const LaunchEnvInput& input);

// tether-jvm-agent.jar beside the running executable (or in ../share/tether/), or empty.
std::string findJvmAgent();

// libtether-preload.so beside the running executable (or in ../lib/tether/), or empty.
std::string findPreloadLibrary();

struct PreloadEnvInput {
  std::string library;                   // libtether-preload.so
  std::string socketPath;                // the session's PreloadService
  std::uint16_t port = 0;                // ... and its connection port
  std::vector<std::string> ranges;       // the cluster's IPv4 ranges ("10.96.0.0/16")
  std::vector<std::string> domains;      // the pod's search path
  std::uint16_t dnsPort = 0;             // the session's PreloadDns, for UDP DNS to ...
  std::vector<std::string> nameservers;  // ... these (resolv.conf's IPv4 nameservers)
};

// LD_PRELOAD (the shim first, the user's own after it) and the shim's TETHER_PRELOAD* settings, added to
// the proxy variables (HTTP clients keep using the proxy; the shim catches the rest).
std::map<std::string, std::string> preloadEnvironment(const PreloadEnvInput& input,
                                                      const std::map<std::string, std::string>& current);

}  // namespace tether::session
