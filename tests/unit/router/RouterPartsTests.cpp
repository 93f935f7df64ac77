// RouterPartsTests.cpp - the router's sans-io parts: the classifier, the head rewriting, the port flag and
// the router role's options.
#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include "protocol/mesh/Sniff.hpp"

#include "shadow/Options.hpp"
#include "shadow/router/Deadline.hpp"
#include "shadow/router/HeadRewrite.hpp"
#include "shadow/router/RouterConfig.hpp"

using namespace tether::shadow;
using namespace tether::shadow::router;
using tether::mesh::classify;
using tether::mesh::kMaxSniffedLine;
using tether::mesh::Sniffed;

TEST_CASE("classifier: TLS, the h2c preface, an HTTP/1 request line, anything else", "[router]") {
  CHECK(classify("") == Sniffed::Undecided);
  CHECK(classify("\x16") == Sniffed::Undecided);
  CHECK(classify(std::string("\x16\x03\x01\x02\x00", 5)) == Sniffed::Tls);
  CHECK(classify("PRI * HTTP/2.0\r\n") == Sniffed::Undecided);
  CHECK(classify("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == Sniffed::H2c);
  CHECK(classify("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n") == Sniffed::Raw);
  CHECK(classify("GE") == Sniffed::Undecided);
  CHECK(classify("GET /a?b=c HTTP/1.") == Sniffed::Undecided);
  CHECK(classify("GET /a?b=c HTTP/1.1\r") == Sniffed::Undecided);
  CHECK(classify("GET /a?b=c HTTP/1.1\r\n") == Sniffed::Http1);
  CHECK(classify("M-SEARCH * HTTP/1.0\r\nHost: x\r\n") == Sniffed::Http1);
  CHECK(classify("GET /a HTTP/2.0\r\n") == Sniffed::Raw);
  CHECK(classify("get / HTTP/1.1\r\n") == Sniffed::Raw);  // methods are case-sensitive
  CHECK(classify("SSH-2.0-OpenSSH_9.2\r\n") == Sniffed::Raw);
  CHECK(classify("*3\r\n$3\r\nSET\r\n") == Sniffed::Raw);  // Redis
  CHECK(classify("GET  / HTTP/1.1\r\n") == Sniffed::Raw);
  CHECK(classify("GET /" + std::string(kMaxSniffedLine, 'a')) == Sniffed::Http1);  // the engine answers 431
}

TEST_CASE("head rewrite: hop-by-hop fields stay on their hop, upgrades keep theirs", "[router]") {
  tether::http1::RequestHead head;
  head.method = "GET";
  head.target = "/x";
  head.headers = {{"Host", "orders"},
                  {"Connection", "keep-alive, x-hop"},
                  {"Keep-Alive", "timeout=5"},
                  {"x-hop", "1"},
                  {"TE", "trailers, gzip"},
                  {"x-dev", "alice"},
                  {"Proxy-Connection", "close"},
                  {"Upgrade", "websocket"}};
  const auto plain = upstreamRequestHead(head, false);
  CHECK(plain == "GET /x HTTP/1.1\r\nHost: orders\r\nx-dev: alice\r\nTE: trailers\r\n\r\n");
  CHECK_FALSE(asksUpgrade(head));  // Connection does not list upgrade

  head.headers[1].value = "Upgrade";
  CHECK(asksUpgrade(head));
  const auto upgrading = upstreamRequestHead(head, true);
  CHECK(upgrading.find("Upgrade: websocket\r\n") != std::string::npos);
  CHECK(upgrading.find("Connection: upgrade\r\n") != std::string::npos);

  head.headers[7].value = "h2c";  // served as HTTP/1.1: the upgrade is not passed on
  CHECK_FALSE(asksUpgrade(head));
  CHECK(upstreamRequestHead(head, false).find("Upgrade") == std::string::npos);

  tether::http1::ResponseHead response;
  response.status = 200;
  response.reason = "OK";
  response.headers = {
      {"Connection", "keep-alive"}, {"Content-Type", "text/plain"}, {"Keep-Alive", "timeout=5"}};
  ResponseHeadOptions options;
  options.chunked = true;
  options.fallback = true;
  options.close = true;
  CHECK(clientResponseHead(response, options) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\ntether-route: "
        "fallback\r\nConnection: close\r\n\r\n");
}

TEST_CASE("router options: ports, protocols and the role's own checks", "[router]") {
  std::string error;
  auto routed = parseRoutedPort("8080=orders-tether-stable.team.svc:80/h2c", error);
  REQUIRE(routed);
  CHECK(routed->listen == 8080);
  CHECK(routed->stableHost == "orders-tether-stable.team.svc");
  CHECK(routed->stablePort == 80);
  CHECK(routed->protocol == PortProtocol::H2c);
  CHECK(parseRoutedPort("8080=stable:80", error)->protocol == PortProtocol::Sniff);
  CHECK_FALSE(parseRoutedPort("8080=stable:80/quic", error));
  CHECK(error.find("unknown port protocol 'quic'") != std::string::npos);
  CHECK_FALSE(parseRoutedPort("8080", error));
  CHECK_FALSE(parseRoutedPort("8080=:80", error));
  CHECK_FALSE(parseRoutedPort("8080=stable:0", error));

  auto parsed =
      parseOptions({"--role", "router", "--route-port", "80=s:8080", "--sniff-timeout", "100ms"}, nullptr);
  REQUIRE(parsed.options);
  CHECK(parsed.options->role == Role::Router);
  CHECK(parsed.options->router.sniffTimeout == std::chrono::milliseconds(100));
  CHECK(parseOptions({"--role", "router"}, nullptr).error.find("--route-port") != std::string::npos);
  CHECK(parseOptions({"--route-port", "80=s:8080"}, "token").error.find("--role router") !=
        std::string::npos);
  CHECK(parseOptions({"--role", "mesh"}, "token").error == "--role is session or router, got mesh");
  CHECK(parseOptions({}, nullptr).error.find("TETHER_SHADOW_TOKEN") != std::string::npos);
}

namespace {

boost::asio::awaitable<void> watchUntilDone(Deadline& deadline, bool& returned) {
  co_await deadline.watch();
  returned = true;
}

}  // namespace

TEST_CASE("deadline: a shorter bound armed while watching takes effect", "[router]") {
  boost::asio::io_context ioc;
  Deadline deadline(ioc.get_executor());
  deadline.arm(std::chrono::hours(1));
  bool returned = false;
  boost::asio::co_spawn(ioc, watchUntilDone(deadline, returned), boost::asio::detached);
  ioc.poll();  // watching, for an hour
  CHECK_FALSE(returned);
  deadline.arm(std::chrono::milliseconds(10));  // a close drain after a long exchange bound
  ioc.run_for(std::chrono::seconds(30));        // a bound that fails the test instead of waiting an hour
  CHECK(returned);
  CHECK(deadline.expired());
}
