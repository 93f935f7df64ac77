// BodyTests.cpp - where message bodies end: Content-Length, chunked (extensions, trailers, any split),
// until close, and the framings a proxy must refuse.
#include <catch2/catch.hpp>

#include "protocol/http1/Body.hpp"

using namespace tether::http1;

namespace {

RequestHead request(Headers headers, int minor = 1) {
  return RequestHead{"POST", "/", minor, std::move(headers)};
}

// Scans `bytes` in pieces of `step` and returns how many belonged to the body.
std::size_t scanInPieces(BodyScanner& scanner, std::string_view bytes, std::size_t step) {
  std::size_t used = 0;
  while (used < bytes.size() && !scanner.done() && !scanner.failed()) {
    const auto piece = bytes.substr(used, step);
    const auto n = scanner.scan(piece);
    used += n;
    if (n < piece.size()) break;
  }
  return used;
}

}  // namespace

TEST_CASE("request framing follows RFC 9112 section 6.3", "[http1]") {
  CHECK(requestFraming(request({})).framing->kind == BodyFraming::Kind::None);
  auto length = requestFraming(request({{"Content-Length", "12"}}));
  CHECK(length.framing->kind == BodyFraming::Kind::Length);
  CHECK(length.framing->length == 12u);
  CHECK(requestFraming(request({{"Content-Length", "7, 7"}})).framing->length == 7u);
  CHECK(requestFraming(request({{"Transfer-Encoding", "gzip, chunked"}})).framing->kind ==
        BodyFraming::Kind::Chunked);

  CHECK(requestFraming(request({{"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}})).error ==
        "both Transfer-Encoding and Content-Length");
  CHECK_FALSE(requestFraming(request({{"Transfer-Encoding", "chunked, gzip"}})).framing);
  CHECK_FALSE(requestFraming(request({{"Transfer-Encoding", "chunked"}}, 0)).framing);
  CHECK_FALSE(requestFraming(request({{"Content-Length", "-1"}})).framing);
  CHECK_FALSE(requestFraming(request({{"Content-Length", "1"}, {"Content-Length", "2"}})).framing);
  CHECK_FALSE(requestFraming(request({{"Content-Length", "0x10"}})).framing);
}

TEST_CASE("response framing: no body for HEAD, 1xx, 204, 304; else chunked, length or until close",
          "[http1]") {
  auto response = [](int status, Headers headers) { return ResponseHead{1, status, "", std::move(headers)}; };
  CHECK(responseFraming(response(200, {{"Content-Length", "5"}}), "HEAD").framing->kind ==
        BodyFraming::Kind::None);
  CHECK(responseFraming(response(100, {}), "POST").framing->kind == BodyFraming::Kind::None);
  CHECK(responseFraming(response(304, {{"Content-Length", "5"}}), "GET").framing->kind ==
        BodyFraming::Kind::None);
  CHECK(responseFraming(response(200, {{"Transfer-Encoding", "chunked"}}), "GET").framing->kind ==
        BodyFraming::Kind::Chunked);
  CHECK(responseFraming(response(200, {{"Transfer-Encoding", "gzip"}}), "GET").framing->kind ==
        BodyFraming::Kind::UntilClose);
  CHECK(responseFraming(response(200, {}), "GET").framing->kind == BodyFraming::Kind::UntilClose);
  CHECK(responseFraming(response(200, {{"Content-Length", "0"}}), "GET").framing->kind ==
        BodyFraming::Kind::Length);
  CHECK_FALSE(responseFraming(response(200, {{"Content-Length", "x"}}), "GET").framing);
}

TEST_CASE("a Content-Length body ends after its bytes, whatever follows", "[http1]") {
  BodyScanner scanner(BodyFraming{BodyFraming::Kind::Length, 5});
  CHECK(scanner.scan("hel") == 3u);
  CHECK_FALSE(scanner.done());
  CHECK(scanner.scan("loGET / HTTP/1.1") == 2u);
  CHECK(scanner.done());
  BodyScanner empty(BodyFraming{BodyFraming::Kind::Length, 0});
  CHECK(empty.done());
  CHECK(empty.scan("x") == 0u);
}

TEST_CASE("a chunked body ends after its last chunk and trailers, for any split of the bytes", "[http1]") {
  const std::string body =
      "4;name=\"v\"\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n";
  const std::string next = "GET /next HTTP/1.1\r\n\r\n";
  for (std::size_t step = 1; step <= body.size() + next.size(); ++step) {
    INFO("pieces of " << step);
    BodyScanner scanner(BodyFraming{BodyFraming::Kind::Chunked, 0});
    CHECK(scanInPieces(scanner, body + next, step) == body.size());
    CHECK(scanner.done());
  }
  BodyScanner noTrailer(BodyFraming{BodyFraming::Kind::Chunked, 0});
  CHECK(noTrailer.scan("0\r\n\r\nX") == 5u);
  CHECK(noTrailer.done());
}

TEST_CASE("malformed chunked framing is refused at the first bad byte", "[http1]") {
  const char* bad[] = {"zz\r\n",          "\r\n",  "5\r\nhello!\r\n", "5\nhello\r\n", "ffffffffffffffff1\r\n",
                       "0\r\nX: y\n\r\n", "3 \r\n"};
  for (const char* bytes : bad) {
    INFO(bytes);
    BodyScanner scanner(BodyFraming{BodyFraming::Kind::Chunked, 0});
    scanner.scan(bytes);
    if (std::string_view(bytes) == "3 \r\n") {
      // Whitespace before an extension is allowed; the body simply is not over.
      CHECK_FALSE(scanner.failed());
      continue;
    }
    CHECK(scanner.failed());
    CHECK_FALSE(scanner.error().empty());
  }
  BodyLimits small;
  small.maxChunkLine = 8;
  BodyScanner longLine(BodyFraming{BodyFraming::Kind::Chunked, 0}, small);
  longLine.scan("1;aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
  CHECK(longLine.error() == "chunk line too long");
}

TEST_CASE("a body until close takes everything and never ends by itself", "[http1]") {
  BodyScanner scanner(BodyFraming{BodyFraming::Kind::UntilClose, 0});
  CHECK(scanner.scan("anything at all") == 15u);
  CHECK_FALSE(scanner.done());
}
