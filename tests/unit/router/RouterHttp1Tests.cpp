// RouterHttp1Tests.cpp - the mesh router in-process against loopback upstreams that name themselves: every
// case sends real bytes through the router and checks who answered (the HTTP/1.1 cases of the design's
// test list, numbered as there).
#include <catch2/catch.hpp>

#include <chrono>
#include <random>

#include "tests/unit/router/RouterTestSupport.hpp"

using namespace tether::routertest;

namespace {

std::string get(const std::string& target, const std::string& fields = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: orders\r\n" + fields + "\r\n";
}

// Granted, with or without overlap warnings.
bool granted(const std::string& reply) {
  return reply.rfind("granted", 0) == 0;
}

std::string servedBy(const std::optional<Response>& response) {
  return response ? response->header("x-served-by") : "(no response)";
}

struct Mesh {
  NamedUpstream stable{"stable"};
  NamedUpstream alice{"alice"};
  NamedUpstream bob{"bob"};
  RouterUnderTest router{routerConfig(stable.port())};
};

}  // namespace

TEST_CASE("router: one keep-alive connection is routed per request (case 1)", "[router]") {
  Mesh mesh;
  REQUIRE(mesh.router.put("alice-1", "alice@laptop", mesh.alice.port(), "exact:x-dev=alice") == "granted\n");
  auto client = Socket::connectTo(mesh.router.port());
  client.send(get("/a"));
  CHECK(servedBy(readResponse(client)) == "stable");
  client.send(get("/b", "x-dev: alice\r\n"));
  CHECK(servedBy(readResponse(client)) == "alice");
  client.send(get("/c"));
  CHECK(servedBy(readResponse(client)) == "stable");
  CHECK(mesh.stable.connections() == 1);  // the pooled upstream connection was reused
  CHECK(mesh.alice.connections() == 1);
  CHECK(mesh.stable.requests() == 2);
}

TEST_CASE("router: different keys, the documented winner, refusal and every matcher kind (case 2)",
          "[router]") {
  Mesh mesh;
  NamedUpstream carol{"carol"};
  NamedUpstream dave{"dave"};
  NamedUpstream erin{"erin"};
  REQUIRE(mesh.router.put("alice-1", "alice@laptop", mesh.alice.port(), "exact:x-dev=alice") == "granted\n");
  // Different keys can meet in one request: granted, with a warning naming the other owner and the winner.
  const auto overlap = mesh.router.put("bob-1", "bob@desk", mesh.bob.port(), "exact:tenant=bob");
  REQUIRE(overlap.rfind("granted ", 0) == 0);
  CHECK(overlap.find("alice@laptop") != std::string::npos);
  const auto refused = mesh.router.put("mallory-1", "mallory@pc", mesh.bob.port(), "exact:x-dev=alice");
  CHECK(refused.rfind("refused ", 0) == 0);
  CHECK(refused.find("alice%40laptop") == std::string::npos);  // '@' travels unescaped
  CHECK(refused.find("alice@laptop") != std::string::npos);
  REQUIRE(granted(mesh.router.put("carol-1", "carol", carol.port(), "prefix:x-branch=feature-")));
  REQUIRE(granted(mesh.router.put("dave-1", "dave", dave.port(), "regex:x-ticket=JIRA-[0-9]+")));
  REQUIRE(granted(mesh.router.put("erin-1", "erin", erin.port(), "baggage:dev=erin")));

  auto client = Socket::connectTo(mesh.router.port());
  client.send(get("/", "x-dev: alice\r\ntenant: bob\r\n"));
  CHECK(servedBy(readResponse(client)) == "alice");  // equal strength: the older lease wins
  client.send(get("/", "tenant: bob\r\n"));
  CHECK(servedBy(readResponse(client)) == "bob");
  client.send(get("/", "X-Branch: feature-login\r\n"));
  CHECK(servedBy(readResponse(client)) == "carol");
  client.send(get("/", "x-ticket: JIRA-42\r\n"));
  CHECK(servedBy(readResponse(client)) == "dave");
  client.send(get("/", "x-ticket: JIRA-42x\r\n"));  // a regex matches the whole value
  CHECK(servedBy(readResponse(client)) == "stable");
  client.send(get("/", "baggage: session=9, dev=erin;p=1\r\n"));
  CHECK(servedBy(readResponse(client)) == "erin");
  client.send(get("/", "x-dev: other\r\nx-dev: alice\r\n"));  // every value of a repeated header is tried
  CHECK(servedBy(readResponse(client)) == "alice");
}

TEST_CASE("router: pipelined requests keep their order and bodies (case 3)", "[router]") {
  Mesh mesh;
  REQUIRE(mesh.router.put("alice-1", "alice", mesh.alice.port(), "exact:x-dev=alice") == "granted\n");
  auto client = Socket::connectTo(mesh.router.port());
  const std::string body(3000, 'p');
  const auto post = [&](const std::string& fields) {
    return "POST /p HTTP/1.1\r\nHost: orders\r\n" + fields + "Content-Length: 3000\r\n\r\n" + body;
  };
  client.send(post("x-dev: alice\r\n") + post("") + post("x-dev: alice\r\n"));
  const std::string expectedSum = "sum=" + std::to_string(fnv64(body));
  for (const char* expected : {"alice", "stable", "alice"}) {
    auto response = readResponse(client);
    REQUIRE(response);
    CHECK(servedBy(response) == expected);
    CHECK(response->body.find("len=3000 " + expectedSum) != std::string::npos);
  }
}

TEST_CASE("router: Expect 100-continue, and a final answer before the body (case 4)", "[router]") {
  Mesh mesh;
  auto client = Socket::connectTo(mesh.router.port());
  client.send(
      "PUT /upload HTTP/1.1\r\nHost: orders\r\nExpect: 100-continue\r\nContent-Length: 1048576\r\n\r\n");
  auto interim = readResponse(client);
  REQUIRE(interim);
  CHECK(interim->status == 100);
  client.send(std::string(1048576, 'x'));
  auto response = readResponse(client);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body.find("len=1048576") != std::string::npos);

  auto rejected = Socket::connectTo(mesh.router.port());
  rejected.send(
      "PUT /expect417 HTTP/1.1\r\nHost: orders\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n");
  auto refusal = readResponse(rejected);
  REQUIRE(refusal);
  CHECK(refusal->status == 417);
  CHECK(refusal->header("Connection") == "close");
  CHECK(rejected.closedByPeer());
}

TEST_CASE("router: a chunked upload streams intact, a slow response streams, trailers arrive (case 5)",
          "[router]") {
  Mesh mesh;
  auto client = Socket::connectTo(mesh.router.port());
  std::mt19937 random(5);
  std::string sent;
  std::string wire = "POST /upload HTTP/1.1\r\nHost: orders\r\nTransfer-Encoding: chunked\r\n\r\n";
  while (sent.size() < 8u * 1024u * 1024u) {
    const std::size_t size = 1 + random() % 70000;
    std::string chunk(size, static_cast<char>('a' + random() % 26));
    char line[32];
    std::snprintf(line, sizeof line, "%zx\r\n", size);
    wire += line + chunk + "\r\n";
    sent += chunk;
    if (wire.size() > 1u << 20) {
      REQUIRE(client.send(wire));
      wire.clear();
    }
  }
  wire += "0\r\nx-upload-sum: " + std::to_string(fnv64(sent)) + "\r\n\r\n";
  REQUIRE(client.send(wire));
  auto response = readResponse(client);
  REQUIRE(response);
  CHECK(response->body.find("len=" + std::to_string(sent.size()) + " sum=" + std::to_string(fnv64(sent))) !=
        std::string::npos);
  const auto seen = mesh.stable.lastRequest();
  REQUIRE(seen);
  CHECK(seen->trailers.find("x-upload-sum: " + std::to_string(fnv64(sent))) != std::string::npos);

  client.send(get("/slowchunks"));
  auto head = readUntilContains(client, "3\r\none\r\n");
  CHECK(head.find("3\r\none\r\n") != std::string::npos);  // chunk one arrived before chunk two exists
  mesh.stable.release();
  auto rest = client.receiveExactly(std::string("3\r\ntwo\r\n0\r\nx-sum: done\r\n\r\n").size());
  CHECK(rest == "3\r\ntwo\r\n0\r\nx-sum: done\r\n\r\n");
}

TEST_CASE("router: HEAD, 204 and 304 carry no body; an until-close response is re-chunked (case 6)",
          "[router]") {
  Mesh mesh;
  auto client = Socket::connectTo(mesh.router.port());
  client.send("HEAD /head1000 HTTP/1.1\r\nHost: orders\r\n\r\n");
  auto head = readResponse(client, "HEAD");
  REQUIRE(head);
  CHECK(head->header("Content-Length") == "1000");
  for (const char* target : {"/204", "/304", "/after"}) {
    client.send(get(target));
    auto response = readResponse(client);
    REQUIRE(response);
    CHECK(servedBy(response) == "stable");
  }
  client.send(get("/http10"));
  auto eof = readResponse(client);
  REQUIRE(eof);
  CHECK(eof->chunked);
  CHECK(eof->body == "stable until close\n");
  client.send(get("/next"));  // the client's connection outlives the upstream's
  CHECK(servedBy(readResponse(client)) == "stable");
}

TEST_CASE("router: a WebSocket upgrade is routed and spliced, bytes behind it kept (case 7)", "[router]") {
  Mesh mesh;
  REQUIRE(mesh.router.put("alice-1", "alice", mesh.alice.port(), "exact:x-dev=alice") == "granted\n");
  auto client = Socket::connectTo(mesh.router.port());
  client.send(get("/ws", "x-dev: alice\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n") + "early-frame");
  auto switched = readResponse(client);
  REQUIRE(switched);
  CHECK(switched->status == 101);
  CHECK(switched->header("x-served-by") == "alice");
  CHECK(switched->header("Upgrade") == "websocket");
  CHECK(client.receiveExactly(11) == "early-frame");
  for (int i = 0; i < 1000; ++i) {
    const std::string frame = "frame-" + std::to_string(i);
    client.send(frame);
    REQUIRE(client.receiveExactly(frame.size()) == frame);
  }
  const std::string big(1u << 20, 'w');
  client.send(big);
  CHECK(client.receiveExactly(big.size()) == big);
  client.shutdownSend();
  CHECK(client.closedByPeer());  // the half-close went through and came back

  auto refused = Socket::connectTo(mesh.router.port());
  refused.send(get("/ws-refuse", "Upgrade: websocket\r\nConnection: Upgrade\r\n"));
  auto answer = readResponse(refused);
  REQUIRE(answer);
  CHECK(answer->status == 400);
  refused.send(get("/after"));
  CHECK(servedBy(readResponse(refused)) == "stable");
}

TEST_CASE("router: a dead pooled connection is retried once, a sent POST never twice (case 8)", "[router]") {
  Mesh mesh;
  auto client = Socket::connectTo(mesh.router.port());
  client.send(get("/arm-die"));
  REQUIRE(readResponse(client));
  client.send(get("/again"));  // the pooled connection dies on it: one retry on a new connection
  auto retried = readResponse(client);
  REQUIRE(retried);
  CHECK(retried->status == 200);
  CHECK(mesh.stable.requestsTo("/again") == 2);
  CHECK(mesh.stable.connections() == 2);

  client.send(get("/arm-die"));
  REQUIRE(readResponse(client));
  client.send("POST /pay HTTP/1.1\r\nHost: orders\r\nContent-Length: 5\r\n\r\nmoney");
  auto failed = readResponse(client);
  REQUIRE(failed);
  CHECK(failed->status == 502);
  CHECK(failed->body.find("stable Service") != std::string::npos);
  CHECK(mesh.stable.requestsTo("/pay") == 1);
}

TEST_CASE("router: malformed requests get 400 or 431 and other clients carry on (case 9)", "[router]") {
  Mesh mesh;
  auto bystander = Socket::connectTo(mesh.router.port());
  bystander.send(get("/before"));
  CHECK(servedBy(readResponse(bystander)) == "stable");

  auto smuggler = Socket::connectTo(mesh.router.port());
  smuggler.send(
      "POST / HTTP/1.1\r\nHost: o\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  auto smuggled = readResponse(smuggler);
  REQUIRE(smuggled);
  CHECK(smuggled->status == 400);
  CHECK(smuggler.closedByPeer());
  CHECK(mesh.stable.requestsTo("/") == 0);

  auto large = Socket::connectTo(mesh.router.port());
  large.send("GET / HTTP/1.1\r\nHost: o\r\nx-big: " + std::string(70 * 1024, 'h') + "\r\n\r\n");
  auto tooLarge = readResponse(large);
  REQUIRE(tooLarge);
  CHECK(tooLarge->status == 431);

  bystander.send(get("/after"));
  CHECK(servedBy(readResponse(bystander)) == "stable");
}

TEST_CASE("router: a request head trickling past the head bound is closed (case 9)", "[router]") {
  NamedUpstream stable{"stable"};
  auto config = routerConfig(stable.port());
  config.headTimeout = std::chrono::milliseconds(200);
  RouterUnderTest router{config};
  auto client = Socket::connectTo(router.port());
  client.send("GET / HTTP/1.1\r\nHost: o\r\n");  // never finished
  CHECK(client.closedByPeer());
  CHECK(stable.requests() == 0);
}

TEST_CASE("router: leases expire, drops take effect, a refusing target falls back to stable (case 12)",
          "[router]") {
  Mesh mesh;
  REQUIRE(mesh.router.put("alice-1", "alice", mesh.alice.port(), "exact:x-dev=alice", 300) == "granted\n");
  auto client = Socket::connectTo(mesh.router.port());
  client.send(get("/slowchunks", "x-dev: alice\r\n"));
  CHECK(readUntilContains(client, "3\r\none\r\n").find("x-served-by: alice") != std::string::npos);
  // The lease expires while alice streams: the table says so, and the stream still completes.
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(kReadBoundSeconds);
  while (mesh.router.control("list") != "routes 0\n") REQUIRE(std::chrono::steady_clock::now() < giveUp);
  auto after = Socket::connectTo(mesh.router.port());
  after.send(get("/x", "x-dev: alice\r\n"));
  CHECK(servedBy(readResponse(after)) == "stable");
  mesh.alice.release();
  CHECK(client.receiveExactly(std::string("3\r\ntwo\r\n0\r\nx-sum: done\r\n\r\n").size()) ==
        "3\r\ntwo\r\n0\r\nx-sum: done\r\n\r\n");

  REQUIRE(mesh.router.put("bob-1", "bob", mesh.bob.port(), "exact:x-dev=bob") == "granted\n");
  CHECK(mesh.router.control("drop bob-1") == "dropped\n");
  CHECK(mesh.router.control("drop bob-1").rfind("unknown ", 0) == 0);
  after.send(get("/y", "x-dev: bob\r\n"));
  CHECK(servedBy(readResponse(after)) == "stable");

  REQUIRE(mesh.router.put("gone-1", "gone@laptop", closedPort(), "exact:x-dev=gone") == "granted\n");
  after.send(get("/z", "x-dev: gone\r\n"));
  auto fallback = readResponse(after);
  REQUIRE(fallback);
  CHECK(servedBy(fallback) == "stable");
  CHECK(fallback->header("tether-route") == "fallback");
}

TEST_CASE("router: a target that accepts and then fails gets a 502 naming the lease", "[router]") {
  Mesh mesh;
  REQUIRE(mesh.router.put("alice-7", "alice@laptop", mesh.alice.port(), "exact:x-dev=alice") == "granted\n");
  auto client = Socket::connectTo(mesh.router.port());
  client.send(get("/die", "x-dev: alice\r\n"));
  auto failed = readResponse(client);
  REQUIRE(failed);
  CHECK(failed->status == 502);
  CHECK(failed->body.find("lease alice-7 of alice@laptop") != std::string::npos);
  client.send(get("/fine"));
  CHECK(servedBy(readResponse(client)) == "stable");
}

TEST_CASE("router: TLS and raw TCP reach stable whole; a server-first banner arrives (case 11)", "[router]") {
  EchoServer echo{"banner\r\n"};
  auto config = routerConfig(echo.port());
  config.ports.push_back({0, "127.0.0.1", echo.port(), tether::shadow::router::PortProtocol::Tcp});
  RouterUnderTest router{config};
  const std::string hello("\x16\x03\x01\x00\x05hello", 10);
  auto tls = Socket::connectTo(router.port(0));
  tls.send(hello);
  CHECK(tls.receiveExactly(8) == "banner\r\n");
  CHECK(tls.receiveExactly(hello.size()) == hello);

  auto declared = Socket::connectTo(router.port(1));  // declared tcp: no sniffing, the banner comes first
  CHECK(declared.receiveExactly(8) == "banner\r\n");
  declared.send("ping");
  CHECK(declared.receiveExactly(4) == "ping");

  auto sniffedBanner = Socket::connectTo(router.port(0));  // silent client: raw after the sniff bound
  CHECK(sniffedBanner.receiveExactly(8) == "banner\r\n");
}

TEST_CASE("router: the control listener lists leases and refuses malformed lines", "[router]") {
  NamedUpstream stable{"stable"};
  RouterUnderTest router{routerConfig(stable.port())};
  CHECK(router.put("a", "alice", 9000, "exact:x-dev=alice%20smith") == "granted\n");
  const auto overlapping = router.put("b", "bob", 9001, "prefix:x-dev=alice");
  CHECK(overlapping.rfind("granted ", 0) == 0);
  CHECK(overlapping.find("alice") != std::string::npos);
  const auto list = router.control("list");
  CHECK(list.rfind("routes 2\nroute a ", 0) == 0);
  CHECK(list.find("exact:x-dev=alice%20smith") != std::string::npos);
  CHECK(router.control("put a 100 *").rfind("error ", 0) == 0);
  CHECK(router.control("put c 1000 * 127.0.0.1:1 carol regex:x-dev=(").rfind("error ", 0) == 0);
  CHECK(router.control("frobnicate").rfind("error ", 0) == 0);
}

TEST_CASE("router: a lease takes only the router port it names", "[router]") {
  NamedUpstream stable{"stable"};
  NamedUpstream alice{"alice"};
  auto config = routerConfig(stable.port());
  config.ports.push_back({0, "127.0.0.1", stable.port(), tether::shadow::router::PortProtocol::Http1});
  RouterUnderTest router{config};
  const auto second = std::to_string(router.port(1));
  REQUIRE(router.put("alice-1", "alice", alice.port(), "exact:x-dev=alice", 60000, second) == "granted\n");
  // The same matchers on another port are another lease, not a conflict.
  REQUIRE(router.put("alice-2", "alice", alice.port(), "exact:x-dev=alice", 60000,
                     std::to_string(router.port(0))) == "granted\n");
  CHECK(router.control("drop alice-2") == "dropped\n");
  auto first = Socket::connectTo(router.port(0));
  first.send(get("/", "x-dev: alice\r\n"));
  CHECK(servedBy(readResponse(first)) == "stable");
  auto other = Socket::connectTo(router.port(1));
  other.send(get("/", "x-dev: alice\r\n"));
  CHECK(servedBy(readResponse(other)) == "alice");
}
