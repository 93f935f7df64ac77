// MessageTests.cpp - HTTP/1.x heads: what is read, and what a proxy must refuse.
#include <catch2/catch.hpp>

#include "protocol/http1/Message.hpp"

using namespace tether::http1;

TEST_CASE("a request head is read into method, target, version and fields", "[http1]") {
  const auto parsed = parseRequestHead(
      "POST http://inventory.demo:8080/items?x=1 HTTP/1.1\r\nHost: inventory\r\nX-Empty:\r\n"
      "Connection: keep-alive, Foo\r\n\r\n");
  REQUIRE(parsed.head);
  CHECK(parsed.head->method == "POST");
  CHECK(parsed.head->target == "http://inventory.demo:8080/items?x=1");
  CHECK(parsed.head->versionMinor == 1);
  REQUIRE(parsed.head->headers.size() == 3);
  CHECK(parsed.head->headers[1].name == "X-Empty");
  CHECK(parsed.head->headers[1].value.empty());
  CHECK(tokens(parsed.head->headers, "connection") == std::vector<std::string>{"keep-alive", "foo"});
  CHECK(find(parsed.head->headers, "HOST")->value == "inventory");
}

TEST_CASE("heads a proxy must not guess at are refused with a reason", "[http1]") {
  struct Case {
    const char* head;
    HeadError error;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", HeadError::Malformed},            // space before the colon
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", HeadError::Malformed},  // obsolete line folding
      {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", HeadError::Malformed},             // a bare CR in a value
      {"GET /  HTTP/1.1\r\n\r\n", HeadError::Malformed},                       // two spaces
      {"GET / HTTP/2.0\r\n\r\n", HeadError::UnsupportedVersion},
      {"GET / FTP/1.0\r\n\r\n", HeadError::Malformed},
      {"G(T / HTTP/1.1\r\n\r\n", HeadError::Malformed},
      {"\r\n\r\n", HeadError::Malformed},
  };
  for (const auto& c : cases) {
    INFO(c.head);
    const auto parsed = parseRequestHead(c.head);
    CHECK_FALSE(parsed.head);
    CHECK(parsed.error == c.error);
    CHECK_FALSE(parsed.reason.empty());
  }
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  const auto tooMany = parseRequestHead(many, HeadLimits{4});
  CHECK(tooMany.error == HeadError::TooLarge);
  CHECK(statusFor(tooMany.error) == 431);
}

TEST_CASE("the end of a head is the first blank line", "[http1]") {
  CHECK_FALSE(headEnd("GET / HTTP/1.1\r\nHost: a\r\n"));
  CHECK(headEnd("GET / HTTP/1.1\r\n\r\nbody") == 18u);
}

TEST_CASE("status lines with and without a reason", "[http1]") {
  auto ok = parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
  REQUIRE(ok.head);
  CHECK(ok.head->status == 200);
  CHECK(ok.head->reason == "OK");
  auto bare = parseResponseHead("HTTP/1.0 204\r\n\r\n");
  REQUIRE(bare.head);
  CHECK(bare.head->status == 204);
  CHECK(bare.head->versionMinor == 0);
  CHECK_FALSE(parseResponseHead("HTTP/1.1 2000 OK\r\n\r\n").head);
  CHECK_FALSE(parseResponseHead("HTTP/1.1 099 Low\r\n\r\n").head);
  CHECK_FALSE(parseResponseHead("ICY 200 OK\r\n\r\n").head);
}

TEST_CASE("keep-alive follows the version and the Connection field", "[http1]") {
  CHECK(keepsAlive(1, {}));
  CHECK_FALSE(keepsAlive(1, {{"Connection", "Close"}}));
  CHECK_FALSE(keepsAlive(0, {}));
  CHECK(keepsAlive(0, {{"connection", "Keep-Alive"}}));
}
