// OutboundPolicyTests.cpp - which hosts are the cluster's, which leave this machine, and through whose proxy.
#include <catch2/catch.hpp>

#include "server/tunnel/OutboundPolicy.hpp"

using namespace tether::tunnelclient;

namespace {

OutboundPolicy shop() {
  OutboundPolicy policy;
  policy.namespaceName = "shop";
  policy.clusterRanges = {*Cidr::parse("10.96.0.0/12"), *Cidr::parse("10.244.0.0/16"),
                          *Cidr::parse("fd00:10::/64")};
  return policy;
}

}  // namespace

TEST_CASE("cluster names and addresses go through the tunnel, the rest leaves this machine",
          "[tunnel][outbound]") {
  const auto policy = shop();
  for (const char* host :
       {"orders", "orders.shop", "orders.shop.svc", "orders.other.svc", "orders.shop.svc.cluster.local",
        "ORDERS.Shop.SVC.cluster.local.", "10.96.0.10", "10.244.3.7", "fd00:10::5", "[fd00:10::5]"}) {
    CHECK(policy.route(host) == Via::Tunnel);
  }
  for (const char* host :
       {"example.com", "api.stripe.com", "shop.example.com", "8.8.8.8", "192.168.1.20", "fd00:11::5"}) {
    CHECK(policy.route(host) == Via::Direct);
  }
  for (const char* host : {"127.0.0.1", "127.0.0.2", "::1", "localhost", "app.localhost"}) {
    CHECK(policy.route(host) == Via::Direct);
  }
  OutboundPolicy unknownRanges;  // nothing learnt: every address stays the cluster's, as without a policy
  CHECK(unknownRanges.route("8.8.8.8") == Via::Tunnel);
  CHECK(unknownRanges.route("example.com") == Via::Direct);
}

TEST_CASE("the developer's own proxy carries the rest, except what their NO_PROXY excludes",
          "[tunnel][outbound]") {
  auto policy = shop();
  policy.upstream = developerProxy({{"HTTP_PROXY", "http://me:pa%3Ass@proxy.corp:3128/"},
                                    {"NO_PROXY", "internal.corp, .lan,10.0.0.0/8,  *.dev"}});
  REQUIRE(policy.upstream);
  CHECK(policy.upstream->address.host == "proxy.corp");
  CHECK(policy.upstream->address.port == 3128);
  CHECK(policy.upstream->credentials == "me:pa%3Ass");
  CHECK(policy.route("example.com") == Via::Upstream);
  CHECK(policy.route("wiki.internal.corp") == Via::Direct);
  CHECK(policy.route("internal.corp") == Via::Direct);
  CHECK(policy.route("printer.lan") == Via::Direct);
  CHECK(policy.route("10.1.2.3") == Via::Direct);
  CHECK(policy.route("box.dev") == Via::Direct);
  CHECK(policy.route("orders") == Via::Tunnel);  // the cluster's never go to the developer's proxy

  CHECK(developerProxy({{"https_proxy", "proxy:8080"}})->address.port == 8080);
  CHECK(developerProxy({{"HTTP_PROXY", "http://[fd00::1]:3128"}})->address.host == "fd00::1");
  CHECK_FALSE(developerProxy({{"ALL_PROXY", "socks5://x:1080"}}));
  CHECK_FALSE(developerProxy({{"HTTP_PROXY", "socks5h://x:1080"}}));
  CHECK_FALSE(developerProxy({{"HTTP_PROXY", "http://x:99999"}}));
  UpstreamProxy everything;
  everything.bypass = {"*"};
  CHECK(everything.bypasses("anything.example"));
}

TEST_CASE("prefixes, and the ranges around what the session saw", "[tunnel][outbound]") {
  CHECK(Cidr::parse("10.96.0.0/12")->contains("10.111.255.1"));
  CHECK_FALSE(Cidr::parse("10.96.0.0/12")->contains("10.112.0.1"));
  CHECK_FALSE(Cidr::parse("10.96.0.0/12")->contains("fd00::1"));
  CHECK(Cidr::parse("10.1.2.3")->contains("10.1.2.3"));
  CHECK_FALSE(Cidr::parse("10.1.2.3")->contains("10.1.2.4"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "x/8", "10.0.0.0/1a", "fd00::/129"})
    CHECK_FALSE(Cidr::parse(bad));
  const auto ranges = rangesAround({"10.96.0.10", "10.96.14.2", "10.244.1.9", "None", "", "fd00:10::7"});
  REQUIRE(ranges.size() == 3);
  CHECK(ranges[0].toString() == "10.96.0.0/16");
  CHECK(ranges[1].toString() == "10.244.0.0/16");
  CHECK(ranges[2].toString() == "fd00:10::/64");
}

TEST_CASE("a cluster range inside a route of this machine is named", "[tunnel][outbound]") {
  // /proc/net/route: addresses in hex as stored (little-endian here): 0000000A is 10.0.0.0, 00FF is /8.
  const std::string routes =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "tun0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"
      "lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"
      // `ip route add unreachable 172.20.0.0/16`: a reject route, no network of this machine's.
      "*\t000014AC\t00000000\t0201\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
  const auto overlaps = overlapsWithRoutes(
      {*Cidr::parse("10.96.0.0/16"), *Cidr::parse("172.20.0.0/16"), *Cidr::parse("127.0.0.0/8")}, routes);
  REQUIRE(overlaps.size() == 1);
  CHECK(overlaps[0].describe() == "10.96.0.0/16 overlaps your route 10.0.0.0/8 on tun0");
  CHECK(overlapsWithRoutes({*Cidr::parse("10.96.0.0/16")}, "header only\n").empty());
  CHECK(Cidr::parse("10.0.0.0/8")->overlaps(*Cidr::parse("10.96.0.0/16")));
  CHECK_FALSE(Cidr::parse("10.0.0.0/16")->overlaps(*Cidr::parse("10.96.0.0/16")));

  // There, only the namespace's known addresses stay the cluster's; a range without overlap is kept whole.
  const std::vector<Cidr> ranges{*Cidr::parse("10.96.0.0/16"), *Cidr::parse("172.20.0.0/16")};
  const auto narrowed =
      narrowedToKnown(ranges, overlaps, {"10.96.0.10", "10.96.3.7", "10.96.0.10", "172.20.1.1", "None"});
  std::vector<std::string> texts;
  for (const auto& range : narrowed) texts.push_back(range.toString());
  CHECK(texts == std::vector<std::string>{"10.96.0.10/32", "10.96.3.7/32", "172.20.0.0/16"});
  OutboundPolicy policy;
  policy.clusterRanges = narrowed;
  CHECK(policy.route("10.96.3.7") == Via::Tunnel);
  CHECK(policy.route("10.96.200.1") == Via::Direct);  // a host of the developer's VPN
  CHECK(policy.route("172.20.9.9") == Via::Tunnel);
}

TEST_CASE("the shim's names: the cluster's, maybe the cluster's, or not", "[tunnel][outbound]") {
  const std::vector<std::string> search{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"};
  CHECK(nameScope("orders.shop.svc.cluster.local", search) == NameScope::Cluster);
  CHECK(nameScope("Orders.Shop.SVC.", search) == NameScope::Cluster);
  CHECK(nameScope("orders.shop.svc", search) == NameScope::Cluster);
  CHECK(nameScope("cluster.local", search) == NameScope::Cluster);
  CHECK(nameScope("orders", search) == NameScope::Maybe);
  CHECK(nameScope("orders.other", search) == NameScope::Maybe);  // another namespace's Service, perhaps
  CHECK(nameScope("example.com", search) == NameScope::Maybe);   // one dot: asked of the cluster first
  CHECK(nameScope("www.example.com", search) == NameScope::Outside);
  CHECK(nameScope("localhost", search) == NameScope::Outside);
  CHECK(nameScope("db.localhost", search) == NameScope::Outside);
  CHECK(nameScope("10.96.0.7", search) == NameScope::Outside);
  CHECK(nameScope("", search) == NameScope::Outside);
}
