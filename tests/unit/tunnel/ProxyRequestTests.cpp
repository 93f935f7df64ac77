// ProxyRequestTests.cpp - the HTTP proxy's decisions per request: targets, the origin-form rewrite,
// hop-by-hop fields (and the ones a Connection field may not remove), the response head, the refusals.
#include <catch2/catch.hpp>

#include "server/tunnel/ProxyProtocol.hpp"
#include "server/tunnel/ProxyRequest.hpp"

using namespace tether;
using namespace tether::tunnelclient;

namespace {
ProxyPlanResult plan(const std::string& head) {
  auto parsed = http1::parseRequestHead(head);
  REQUIRE(parsed.head);
  return planRequest(*parsed.head);
}
}  // namespace

TEST_CASE("CONNECT plans a tunnel to host:port", "[tunnel][proxy]") {
  auto connect = plan("CONNECT orders.ns:8443 HTTP/1.1\r\nHost: orders.ns\r\n\r\n");
  REQUIRE(connect.plan);
  CHECK(connect.plan->connect);
  CHECK(connect.plan->target.key() == "orders.ns:8443");
  auto v6 = plan("CONNECT [fd00::1]:443 HTTP/1.1\r\n\r\n");
  REQUIRE(v6.plan);
  CHECK(v6.plan->target.host == "fd00::1");
  CHECK_FALSE(plan("CONNECT host:0 HTTP/1.1\r\n\r\n").plan);
  CHECK_FALSE(plan("CONNECT host: HTTP/1.1\r\n\r\n").plan);
}

TEST_CASE("an absolute-form request goes to its host in origin form with Host from the URI",
          "[tunnel][proxy]") {
  auto get = plan(
      "GET http://orders:8080/api?x=1 HTTP/1.1\r\nHost: elsewhere\r\nProxy-Connection: keep-alive\r\n"
      "Proxy-Authorization: Basic eA==\r\nKeep-Alive: 5\r\nTE: trailers\r\nConnection: keep-alive, X-Hop\r\n"
      "X-Hop: 1\r\nAccept: */*\r\n\r\n");
  REQUIRE(get.plan);
  CHECK_FALSE(get.plan->connect);
  CHECK(get.plan->target.key() == "orders:8080");
  CHECK(get.plan->clientKeepsAlive);
  CHECK(get.plan->upstreamHead == "GET /api?x=1 HTTP/1.1\r\nHost: orders:8080\r\nAccept: */*\r\n\r\n");

  auto bare = plan("GET http://orders HTTP/1.0\r\n\r\n");
  REQUIRE(bare.plan);
  CHECK(bare.plan->target.port == 80);
  CHECK_FALSE(bare.plan->clientKeepsAlive);  // HTTP/1.0: one request per connection
  CHECK(bare.plan->upstreamHead == "GET / HTTP/1.0\r\nHost: orders\r\n\r\n");

  auto query = plan("GET http://user:pw@orders?q=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
  REQUIRE(query.plan);
  CHECK(query.plan->upstreamHead == "GET /?q=1 HTTP/1.1\r\nHost: orders\r\nConnection: close\r\n\r\n");
  CHECK_FALSE(query.plan->clientKeepsAlive);
}

TEST_CASE("a Connection field cannot make the proxy drop the fields that frame the message",
          "[tunnel][proxy]") {
  auto sneaky = plan(
      "POST http://orders/ HTTP/1.1\r\nConnection: Content-Length, Transfer-Encoding, Host\r\n"
      "Content-Length: 4\r\n\r\n");
  REQUIRE(sneaky.plan);
  CHECK(sneaky.plan->body.kind == http1::BodyFraming::Kind::Length);
  CHECK(sneaky.plan->upstreamHead == "POST / HTTP/1.1\r\nHost: orders\r\nContent-Length: 4\r\n\r\n");
}

TEST_CASE("an upgrade request keeps its Upgrade field; one with a body is not an upgrade",
          "[tunnel][proxy]") {
  auto upgrade = plan("GET http://chat/ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  REQUIRE(upgrade.plan);
  CHECK(upgrade.plan->upgrade);
  CHECK(upgrade.plan->upstreamHead ==
        "GET /ws HTTP/1.1\r\nHost: chat\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  auto withBody = plan(
      "POST http://chat/ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: "
      "1\r\n\r\n");
  REQUIRE(withBody.plan);
  CHECK_FALSE(withBody.plan->upgrade);
}

TEST_CASE("requests a proxy cannot forward are refused with a status and a reason", "[tunnel][proxy]") {
  auto origin = plan("GET /relative HTTP/1.1\r\n\r\n");
  CHECK(origin.status == 400);
  CHECK_THAT(origin.error, Catch::Contains("absolute-form"));
  CHECK_THAT(plan("GET https://secure/ HTTP/1.1\r\n\r\n").error, Catch::Contains("CONNECT"));
  CHECK_THAT(plan("GET http:///x HTTP/1.1\r\n\r\n").error, Catch::Contains("bad host"));
  CHECK_THAT(plan("POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n").error,
             Catch::Contains("both"));
}

TEST_CASE("the client sees the proxy's status line and the upstream's end-to-end fields", "[tunnel][proxy]") {
  auto parsed = http1::parseResponseHead(
      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Hop\r\nX-Hop: a\r\nKeep-Alive: 5\r\n"
      "X-End: b\r\n\r\n");
  REQUIRE(parsed.head);
  CHECK(clientResponseHead(*parsed.head, false) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-End: b\r\n\r\n");
  CHECK(clientResponseHead(*parsed.head, true) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-End: b\r\nConnection: close\r\n\r\n");
  auto switching = http1::parseResponseHead(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  REQUIRE(switching.head);
  CHECK(clientResponseHead(*switching.head, true) ==
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  CHECK(proxyAnswer(407, "no", false, "Proxy-Authenticate: Basic realm=\"tether\"\r\n") ==
        "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
        "Proxy-Authenticate: Basic realm=\"tether\"\r\nConnection: close\r\n\r\ntether: no\n");
}

TEST_CASE("the PROXY protocol v1 line names the cluster client and the address it called",
          "[tunnel][proxy]") {
  CHECK(proxyProtocolV1("10.244.0.7:51234", "10.244.0.9:8080") ==
        "PROXY TCP4 10.244.0.7 10.244.0.9 51234 8080\r\n");
  CHECK(proxyProtocolV1("[fd00::7]:51234", "[fd00::9]:80") == "PROXY TCP6 fd00::7 fd00::9 51234 80\r\n");
  // What cannot be told exactly is said to be unknown, never guessed.
  CHECK(proxyProtocolV1("?", "10.244.0.9:8080") == "PROXY UNKNOWN\r\n");
  CHECK(proxyProtocolV1("10.244.0.7:51234", "") == "PROXY UNKNOWN\r\n");
  CHECK(proxyProtocolV1("10.244.0.7:51234", "[fd00::9]:80") == "PROXY UNKNOWN\r\n");
  CHECK(proxyProtocolV1("10.244.0.7:99999", "10.244.0.9:80") == "PROXY UNKNOWN\r\n");
  CHECK(proxyProtocolV1("evil\r\nhost:1", "10.244.0.9:80") == "PROXY UNKNOWN\r\n");
}
