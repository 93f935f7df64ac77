// FramingTests.cpp - the Content-Length and delimited decoders, including the split-at-every-byte matrix.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "protocol/jsonrpc/Framing.hpp"

using tether::jsonrpc::ContentLengthDecoder;
using tether::jsonrpc::DelimitedDecoder;
using tether::jsonrpc::encodeFrame;
using tether::jsonrpc::FrameEvent;
using tether::jsonrpc::FrameLimits;

namespace {

std::vector<FrameEvent> drain(ContentLengthDecoder& decoder) {
  std::vector<FrameEvent> events;
  while (auto event = decoder.next()) events.push_back(std::move(*event));
  return events;
}

std::vector<std::string> frames(const std::vector<FrameEvent>& events) {
  std::vector<std::string> bodies;
  for (const auto& event : events) {
    if (event.isFrame()) bodies.push_back(event.text);
  }
  return bodies;
}

std::size_t errors(const std::vector<FrameEvent>& events) {
  std::size_t count = 0;
  for (const auto& event : events) count += event.isFrame() ? 0 : 1;
  return count;
}

const std::vector<std::string> kBodies = {
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})",
    R"({"jsonrpc":"2.0","method":"initialized"})",
    R"({"jsonrpc":"2.0","id":"two","method":"tether/version","params":{"x":"é ✓"}})",
};

std::string stream() {
  std::string all;
  for (const auto& body : kBodies) all += encodeFrame(body);
  // A frame with extra headers in another order and case, which clients may send.
  all += "content-type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH:   2\r\n\r\n{}";
  return all;
}

}  // namespace

TEST_CASE("a stream split at every byte position decodes identically", "[framing]") {
  const auto all = stream();
  auto expected = kBodies;
  expected.push_back("{}");
  const auto split = GENERATE_COPY(range<std::size_t>(0, all.size() + 1));
  ContentLengthDecoder decoder;
  std::vector<FrameEvent> events;
  decoder.feed(std::string_view(all).substr(0, split));
  for (auto& event : drain(decoder)) events.push_back(std::move(event));
  decoder.feed(std::string_view(all).substr(split));
  for (auto& event : drain(decoder)) events.push_back(std::move(event));
  CHECK(errors(events) == 0);
  CHECK(frames(events) == expected);
  CHECK(decoder.atFrameBoundary());
}

TEST_CASE("a stream fed one byte at a time decodes identically", "[framing]") {
  const auto all = stream();
  ContentLengthDecoder decoder;
  std::vector<FrameEvent> events;
  for (char byte : all) {
    decoder.feed(std::string_view(&byte, 1));
    for (auto& event : drain(decoder)) events.push_back(std::move(event));
  }
  CHECK(frames(events).size() == kBodies.size() + 1);
  CHECK(errors(events) == 0);
}

TEST_CASE("several messages in one read all come out, in order", "[framing]") {
  ContentLengthDecoder decoder;
  decoder.feed(stream());
  const auto events = drain(decoder);
  REQUIRE(frames(events).size() == 4);
  CHECK(frames(events)[0] == kBodies[0]);
  CHECK(frames(events)[2] == kBodies[2]);
}

TEST_CASE("malformed header blocks are rejected and the decoder resynchronises", "[framing]") {
  struct Case {
    const char* name;
    std::string header;
    const char* expectedError;
  };
  const Case cases[] = {
      {"missing Content-Length", "Content-Type: application/json\r\n\r\n{}", "no Content-Length"},
      {"duplicate Content-Length", "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "duplicate"},
      {"non-numeric Content-Length", "Content-Length: abc\r\n\r\n{}", "not a non-negative integer"},
      {"negative Content-Length", "Content-Length: -5\r\n\r\n{}", "not a non-negative integer"},
      {"trailing junk in Content-Length", "Content-Length: 12x\r\n\r\n{}", "not a non-negative integer"},
      {"empty Content-Length", "Content-Length:\r\n\r\n{}", "not a non-negative integer"},
      {"overflowing Content-Length", "Content-Length: 99999999999999999999999\r\n\r\n{}",
       "not a non-negative"},
      {"header line without colon", "Content-Length 2\r\n\r\n{}", "no ':'"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      ContentLengthDecoder decoder;
      decoder.feed(c.header + encodeFrame(kBodies[0]));
      const auto events = drain(decoder);
      REQUIRE_FALSE(events.empty());
      REQUIRE_FALSE(events.front().isFrame());
      CHECK_THAT(events.front().text, Catch::Contains(c.expectedError));
      // The good frame after the bad one survives.
      CHECK(frames(events) == std::vector<std::string>{kBodies[0]});
    }
  }
}

TEST_CASE("a frame over the cap is refused without being buffered", "[framing]") {
  FrameLimits limits;
  limits.maxContentLength = 1024;
  ContentLengthDecoder decoder(limits);
  const std::size_t huge = 70u * 1024u * 1024u;  // larger than the production cap too
  decoder.feed("Content-Length: " + std::to_string(huge) + "\r\n\r\n");
  auto events = drain(decoder);
  REQUIRE(events.size() == 1);
  CHECK_FALSE(events[0].isFrame());
  CHECK_THAT(events[0].text, Catch::Contains("exceeds the limit"));
  const std::string chunk(64 * 1024, 'x');
  std::size_t maxBuffered = 0;
  for (std::size_t sent = 0; sent < huge; sent += chunk.size()) {
    decoder.feed(std::string_view(chunk).substr(0, std::min(chunk.size(), huge - sent)));
    CHECK(drain(decoder).empty());
    maxBuffered = std::max(maxBuffered, decoder.bufferedBytes());
  }
  CHECK(maxBuffered == 0);
  decoder.feed(encodeFrame(kBodies[1]));
  CHECK(frames(drain(decoder)) == std::vector<std::string>{kBodies[1]});
}

TEST_CASE("the production cap is 64 MiB", "[framing]") {
  CHECK(FrameLimits{}.maxContentLength == 64u * 1024u * 1024u);
  ContentLengthDecoder decoder;
  decoder.feed("Content-Length: " + std::to_string(64u * 1024u * 1024u + 1u) + "\r\n\r\n");
  const auto events = drain(decoder);
  REQUIRE(events.size() == 1);
  CHECK_FALSE(events[0].isFrame());
}

TEST_CASE("an endless header block is cut at the header limit", "[framing]") {
  ContentLengthDecoder decoder;
  decoder.feed("X-Junk: " + std::string(20000, 'a'));
  const auto events = drain(decoder);
  REQUIRE(events.size() == 1);
  CHECK_THAT(events[0].text, Catch::Contains("header block exceeds"));
  CHECK(decoder.bufferedBytes() < 100);
  decoder.feed("\r\n" + encodeFrame(kBodies[0]));
  CHECK(frames(drain(decoder)) == std::vector<std::string>{kBodies[0]});
}

TEST_CASE("bare LF header terminators are tolerated", "[framing]") {
  ContentLengthDecoder decoder;
  decoder.feed("Content-Length: 2\n\n{}");
  CHECK(frames(drain(decoder)) == std::vector<std::string>{"{}"});
}

TEST_CASE("input that ends mid-frame is not at a frame boundary", "[framing]") {
  ContentLengthDecoder decoder;
  decoder.feed("Content-Length: 10\r\n\r\n{\"a\"");
  CHECK(drain(decoder).empty());
  CHECK_FALSE(decoder.atFrameBoundary());
}

TEST_CASE("delimited input: --- separates, # comments are skipped, the tail is delivered at EOF",
          "[framing]") {
  DelimitedDecoder decoder;
  decoder.feed("# a comment\n{\"a\":1}\n---\n\n---\n# CHECK: something\n{\"b\":\n2}\n---\n{\"c\":3}");
  std::vector<std::string> bodies;
  while (auto event = decoder.next()) bodies.push_back(event->text);
  if (auto last = decoder.finish()) bodies.push_back(last->text);
  REQUIRE(bodies.size() == 3);
  CHECK(bodies[0] == "{\"a\":1}\n");
  CHECK(bodies[1] == "{\"b\":\n2}\n");
  CHECK(bodies[2] == "{\"c\":3}\n");
}

TEST_CASE("encodeFrame writes the LSP header", "[framing]") {
  CHECK(encodeFrame("{}") == "Content-Length: 2\r\n\r\n{}");
  CHECK(encodeFrame("é") == "Content-Length: 2\r\n\r\né");
}
