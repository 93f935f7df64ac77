// OutboundPolicy.hpp - where a proxied connection goes, sans-io: through the tunnel (the cluster's names
// and addresses), straight out of this machine, or through the developer's own (corporate) HTTP proxy.
//
// The proxy decides, not NO_PROXY: a debuggee's clients send every name to the local proxy, and the proxy
// knows what the cluster is. Cluster: a name in the cluster domain, ending in `.svc`, `.<namespace>` or
// `.<namespace>.svc`, a single label (the pod's search path makes `redis` a Service), or an address in the
// cluster's Service and Pod ranges. Everything else leaves this machine as it would without Tether, through
// the developer's own proxy unless their own NO_PROXY excludes it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::tunnelclient {

// An IPv4 or IPv6 prefix ("10.96.0.0/12", "fd00::/8"); an address alone is a full-length prefix.
class Cidr {
 public:
  static std::optional<Cidr> parse(std::string_view text);
  // False for text that is not an address of this prefix's family.
  bool contains(std::string_view address) const;
  std::string toString() const;

  bool overlaps(const Cidr& other) const;

 private:
  std::array<std::uint8_t, 16> bytes_{};
  int bits_ = 0;
  bool v4_ = true;
};

// "10.1.2.3" or "::1" (brackets allowed): true for an address literal rather than a name.
bool isAddressLiteral(std::string_view host);

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// The developer's own proxy, from the variables they had before Tether's replaced them.
struct UpstreamProxy {
  HostPort address;
  std::string credentials;          // "user:password" from the URL, or empty
  std::vector<std::string> bypass;  // their NO_PROXY entries: "*", "example.com", ".corp", "10.0.0.0/8"

  // "http://user:pass@proxy.corp:3128" (scheme optional, http only; port 80 by default); nullopt when it is
  // not a URL of an HTTP proxy.
  static std::optional<UpstreamProxy> fromUrl(std::string_view url);
  bool bypasses(std::string_view host) const;
};

enum class Via { Tunnel, Direct, Upstream };

struct OutboundPolicy {
  std::string clusterDomain = "cluster.local";
  std::string namespaceName;
  std::vector<Cidr> clusterRanges;  // Service and Pod ranges; empty: every address is the cluster's
  std::optional<UpstreamProxy> upstream;

  Via route(std::string_view host) const;
  // How to reach a host that is not the cluster's: directly, or through the developer's proxy.
  Via outside(std::string_view host) const;
};

const char* toString(Via via);

// Whose a name is, for the preload shim's resolving: only the cluster's (`.svc`, under a search domain of
// the pod), maybe the cluster's (at most one dot: the pod's search path may make it a Service, else the
// system's resolver has it), or not the cluster's (address literals, localhost, the rest). The shim's
// cluster_name() (server/preload/) makes the same decision in C.
enum class NameScope { Outside, Maybe, Cluster };
NameScope nameScope(std::string_view name, const std::vector<std::string>& search);

// Ranges that cover these cluster addresses (a namespace's ClusterIPs, the shadow pod's IP): the /16 of
// each IPv4 address and the /64 of each IPv6 one, once each. Service and Pod ranges are not readable by
// a namespace's user, so this is an estimate, wide enough for the usual /12 and /16 layouts.
std::vector<Cidr> rangesAround(const std::vector<std::string>& addresses);

// A cluster range that overlaps a route of this machine (a VPN, a local network).
struct RouteOverlap {
  Cidr range;  // the cluster's
  Cidr route;  // this machine's
  std::string device;
  std::string describe() const;  // "10.96.0.0/16 overlaps your route 10.0.0.0/8 on tun0"
};

// The cluster ranges that overlap a route of this machine (the text of /proc/net/route). Default routes
// and loopback do not count.
std::vector<RouteOverlap> overlapsWithRoutes(const std::vector<Cidr>& ranges, std::string_view procNetRoute);

// `ranges` with each one that overlaps a route of this machine replaced by the cluster addresses known
// inside it (a full-length prefix each: the namespace's ClusterIPs and pod IPs): those still go to the
// cluster, every other address there stays on the developer's own network. This machine's routes are
// never changed; only the debuggee's view of what is the cluster's narrows.
std::vector<Cidr> narrowedToKnown(const std::vector<Cidr>& ranges, const std::vector<RouteOverlap>& overlaps,
                                  const std::vector<std::string>& known);

// The developer's own proxy from their environment as it was (HTTPS_PROXY, https_proxy, HTTP_PROXY,
// http_proxy, the first set; NO_PROXY or no_proxy as its bypass list); nullopt when none is set.
std::optional<UpstreamProxy> developerProxy(const std::map<std::string, std::string>& environment);

}  // namespace tether::tunnelclient
