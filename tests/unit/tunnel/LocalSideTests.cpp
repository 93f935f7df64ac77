// LocalSideTests.cpp - the sans-io parts of the agent and the backend side: shadow flags and resolv.conf,
// SOCKS reply codes, SERVFAIL answers and the image name.
#include <catch2/catch.hpp>

#include "protocol/tunnel/ShadowImage.hpp"
#include "server/tunnel/DnsMessage.hpp"
#include "server/tunnel/Socks5Proxy.hpp"
#include "shadow/Options.hpp"
#include "shadow/Resolv.hpp"

using namespace tether;

TEST_CASE("shadow options: defaults, flags, durations and the token from the environment", "[tunnel]") {
  auto defaults = shadow::parseOptions({}, "tok");
  REQUIRE(defaults.options);
  CHECK(defaults.options->tunnelHost == "127.0.0.1");
  CHECK(defaults.options->listenHost == "0.0.0.0");
  CHECK(defaults.options->idleTtl == std::chrono::minutes(10));
  CHECK(defaults.options->token == "tok");

  auto custom =
      shadow::parseOptions({"--tunnel-port", "9000", "--idle-ttl", "90s", "--drain-timeout", "250ms"}, "t");
  REQUIRE(custom.options);
  CHECK(custom.options->tunnelPort == 9000);
  CHECK(custom.options->idleTtl == std::chrono::seconds(90));
  CHECK(custom.options->drainTimeout == std::chrono::milliseconds(250));

  CHECK_FALSE(shadow::parseOptions({}, nullptr).options);
  CHECK_THAT(shadow::parseOptions({}, "").error, Catch::Contains("TETHER_SHADOW_TOKEN"));
  CHECK_FALSE(shadow::parseOptions({"--tunnel-port", "70000"}, "t").options);
  CHECK_FALSE(shadow::parseOptions({"--idle-ttl", "soon"}, "t").options);
  CHECK_FALSE(shadow::parseOptions({"--bogus", "1"}, "t").options);
  CHECK(shadow::parseOptions({"--version"}, nullptr).options);
  CHECK(shadow::parseDuration("10m") == std::chrono::minutes(10));
  CHECK(shadow::parseDuration("1.5s") == std::chrono::milliseconds(1500));
}

TEST_CASE("shadow resolver: first nameserver of resolv.conf and --dns-server forms", "[tunnel]") {
  CHECK(shadow::nameserverFromText("search ns.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\n"
                                   "nameserver 10.96.0.11\noptions ndots:5\n") == "10.96.0.10");
  CHECK(shadow::nameserverFromText("# nothing\n").empty());
  auto plain = shadow::parseDnsServer("10.96.0.10");
  REQUIRE(plain);
  CHECK(plain->port() == 53);
  auto withPort = shadow::parseDnsServer("127.0.0.1:5353");
  REQUIRE(withPort);
  CHECK(withPort->port() == 5353);
  auto v6 = shadow::parseDnsServer("[fd00::a]:54");
  REQUIRE(v6);
  CHECK(v6->address().is_v6());
  CHECK_FALSE(shadow::parseDnsServer("not-an-ip"));
  CHECK_FALSE(shadow::parseDnsServer("1.2.3.4:99999"));
}

TEST_CASE("socks5 reply codes follow the reset reason", "[tunnel]") {
  CHECK(tunnelclient::socksReplyFor(tunnel::Code::Ok) == 0x00);
  CHECK(tunnelclient::socksReplyFor(tunnel::Code::Refused) == 0x05);
  CHECK(tunnelclient::socksReplyFor(tunnel::Code::DnsFailure) == 0x04);
  CHECK(tunnelclient::socksReplyFor(tunnel::Code::TransportLost) == 0x01);
}

TEST_CASE("dns servfail echoes the question with QR, RA and RCODE 2", "[tunnel]") {
  const std::string query("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03foo\x00\x00\x01\x00\x01", 21);
  const std::string reply = tunnelclient::servfailFor(query);
  REQUIRE(reply.size() == query.size());
  CHECK(reply.substr(0, 2) == "\x12\x34");
  CHECK((static_cast<unsigned char>(reply[2]) & 0x80) != 0);
  CHECK((static_cast<unsigned char>(reply[3]) & 0x0F) == 2);
  CHECK(reply.substr(12) == query.substr(12));
  CHECK(tunnelclient::servfailFor("short").empty());
}

TEST_CASE("shadow image: explicit value, then environment, then the versioned default", "[tunnel]") {
  // Registry-qualified, tagged with this build's version.
  CHECK(tunnel::shadowImage("", nullptr) ==
        "ghcr.io/tether-dev/tether-shadow:" + std::string(tunnel::kProjectVersion));
  CHECK(tunnel::shadowImage("", "") == tunnel::defaultShadowImage());
  CHECK(tunnel::shadowImage("", "registry.local/ts:dev") == "registry.local/ts:dev");
  CHECK(tunnel::shadowImage("mine:1", "registry.local/ts:dev") == "mine:1");
}

TEST_CASE("image references: tags, digests and mirrors are accepted; anything else is named", "[tunnel]") {
  for (const char* good :
       {"ghcr.io/tether-dev/tether-shadow:0.1.0", "tether-shadow:dev",
        "registry.corp:5000/team/tether-shadow:1.2.3-rc.1",
        "registry.corp/tether-shadow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "localhost/shadow",
        "ghcr.io/tether-dev/tether-shadow:0.1.0@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}) {
    INFO(good);
    CHECK_FALSE(tunnel::imageReferenceProblem(good));
  }
  for (const char* bad : {"", "Tether-Shadow", "shadow:", "shadow@sha256:abc", "shadow image", "ghcr.io//x",
                          "-shadow", "registry.corp:port/x", "shadow:tag with space"}) {
    INFO(bad);
    CHECK(tunnel::imageReferenceProblem(bad));
  }
  CHECK_THAT(*tunnel::imageReferenceProblem("shadow@sha256:abc"), Catch::Contains("is not a sha256 digest"));
}
