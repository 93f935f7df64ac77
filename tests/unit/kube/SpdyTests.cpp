// SpdyTests.cpp - kubectl's port-forward protocol without sockets: SPDY/3.1 frames cut anywhere, header
// blocks on connection-long zlib streams, and the stream pairs of PortForwardMux stepped frame by frame
// against a scripted server built from the same codec.
#include <catch2/catch.hpp>

#include <map>

#include "server/kube/spdy/PortForwardMux.hpp"
#include "server/kube/spdy/SpdyFrames.hpp"
#include "server/kube/spdy/SpdyHeaders.hpp"

using namespace tether::kube::spdy;

namespace {

struct ParsedFrame {
  bool control;
  std::uint16_t type;
  std::uint32_t streamId;
  std::uint8_t flags;
  std::string payload;
};

std::vector<ParsedFrame> parseAll(std::string_view bytes) {
  FrameReader reader(1 << 24);
  reader.feed(bytes);
  std::vector<ParsedFrame> frames;
  while (auto frame = reader.next()) {
    frames.push_back(
        {frame->control, frame->type, frame->streamId, frame->flags, std::string(frame->payload)});
  }
  REQUIRE_FALSE(reader.error());
  REQUIRE(reader.buffered() == 0);
  return frames;
}

// The server's half of a connection: its own zlib streams, as kubesim and the kubelet keep them.
struct ScriptedServer {
  HeaderCompressor compressor;
  HeaderDecompressor decompressor;

  std::map<std::string, std::string> headersOf(const ParsedFrame& synStream) {
    std::string error;
    auto headers = decompressor.decompress(std::string_view(synStream.payload).substr(10), error);
    REQUIRE(headers);
    return {headers->begin(), headers->end()};
  }
  std::string synReply(std::uint32_t id) {
    std::string payload;
    appendU32(payload, id);
    payload += compressor.compress({});
    std::string out;
    appendControl(out, ControlType::SynReply, 0, payload);
    return out;
  }
  static std::string data(std::uint32_t id, std::string_view bytes, bool fin = false) {
    std::string out;
    appendData(out, id, fin ? kFlagFin : 0, bytes);
    return out;
  }
  static std::string control(ControlType type, std::uint32_t a, std::optional<std::uint32_t> b = {}) {
    std::string payload;
    appendU32(payload, a);
    if (b) appendU32(payload, *b);
    std::string out;
    appendControl(out, type, 0, payload);
    return out;
  }
};

std::vector<PortForwardEvent> drain(PortForwardMux& mux) {
  std::vector<PortForwardEvent> events;
  while (auto event = mux.popEvent()) events.push_back(*event);
  return events;
}

std::string output(PortForwardMux& mux) {
  std::string out;
  mux.takeOutput(out);
  return out;
}

}  // namespace

TEST_CASE("SPDY frames survive being cut at every byte", "[kube][spdy]") {
  std::string bytes;
  appendControl(bytes, ControlType::Ping, 0, std::string_view("\0\0\0\7", 4));
  appendData(bytes, 3, kFlagFin, "hello");
  appendData(bytes, 5, 0, "");
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    FrameReader reader(1024);
    std::vector<ParsedFrame> frames;
    for (auto piece : {std::string_view(bytes).substr(0, cut), std::string_view(bytes).substr(cut)}) {
      reader.feed(piece);
      while (auto frame = reader.next()) {
        frames.push_back(
            {frame->control, frame->type, frame->streamId, frame->flags, std::string(frame->payload)});
      }
    }
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].control);
    CHECK(frames[0].type == static_cast<std::uint16_t>(ControlType::Ping));
    CHECK(readU32(frames[0].payload) == 7);
    CHECK_FALSE(frames[1].control);
    CHECK(frames[1].streamId == 3);
    CHECK(frames[1].flags == kFlagFin);
    CHECK(frames[1].payload == "hello");
    CHECK(frames[2].streamId == 5);
    CHECK(frames[2].payload.empty());
  }
}

TEST_CASE("SPDY frame reader refuses oversized frames and other versions before buffering them",
          "[kube][spdy]") {
  FrameReader reader(16);
  std::string big;
  appendData(big, 1, 0, std::string(17, 'x'));
  reader.feed(std::string_view(big).substr(0, kFrameHeaderSize));  // the header alone is enough to refuse
  CHECK_FALSE(reader.next());
  REQUIRE(reader.error());
  CHECK_THAT(*reader.error(), Catch::Contains("17 bytes") && Catch::Contains("limit is 16"));

  FrameReader other(1024);
  other.feed(std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));
  CHECK_FALSE(other.next());
  REQUIRE(other.error());
  CHECK_THAT(*other.error(), Catch::Contains("SPDY/2"));
}

TEST_CASE("SPDY header blocks share one zlib stream per direction", "[kube][spdy]") {
  HeaderCompressor compressor;
  HeaderDecompressor decompressor;
  const HeaderList first{{"streamtype", "error"}, {"port", "80"}, {"requestid", "0"}};
  const HeaderList second{{"streamtype", "data"}, {"port", "80"}, {"requestid", "0"}};
  const auto a = compressor.compress(first);
  const auto b = compressor.compress(second);
  CHECK(b.size() < a.size());  // the second block refers back to the first
  std::string error;
  CHECK(decompressor.decompress(a, error) == first);
  CHECK(decompressor.decompress(b, error) == second);
  CHECK(decompressor.decompress(compressor.compress({}), error) == HeaderList{});

  // The second block alone cannot be read by a fresh decompressor: the stream is connection state.
  HeaderDecompressor fresh;
  CHECK_FALSE(fresh.decompress(b, error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("SPDY header blocks that lie are refused with a reason", "[kube][spdy]") {
  std::string error;
  CHECK_FALSE(decodeHeaderBlock(std::string("\0\0\0\x05", 4), error));
  CHECK_THAT(error, Catch::Contains("claims 5 headers"));
  std::string cut = encodeHeaderBlock({{"port", "80"}});
  cut.pop_back();
  CHECK_FALSE(decodeHeaderBlock(cut, error));
  CHECK_THAT(error, Catch::Contains("cut short"));

  HeaderDecompressor decompressor;
  CHECK_FALSE(decompressor.decompress("definitely not zlib", error));
  CHECK_THAT(error, Catch::Contains("zlib"));

  // A small block that inflates enormously stops at the limit.
  HeaderCompressor compressor;
  const auto bomb = compressor.compress({{"x", std::string(200000, 'a')}});
  HeaderDecompressor limited(64 * 1024);
  CHECK_FALSE(limited.decompress(bomb, error));
  CHECK_THAT(error, Catch::Contains("beyond 65536"));
}

TEST_CASE("port-forward connections open as kubectl opens them: error stream, then data stream",
          "[kube][spdy]") {
  PortForwardMux mux;
  ScriptedServer server;
  const auto first = mux.open(8080);
  const auto second = mux.open(9090);
  REQUIRE(first == 3u);
  REQUIRE(second == 7u);
  const auto frames = parseAll(output(mux));
  REQUIRE(frames.size() == 6);
  CHECK(frames[0].type == static_cast<std::uint16_t>(ControlType::SynStream));
  CHECK(readU32(frames[0].payload) == 1);
  CHECK(server.headersOf(frames[0]) ==
        std::map<std::string, std::string>{{"streamtype", "error"}, {"port", "8080"}, {"requestid", "0"}});
  CHECK_FALSE(frames[1].control);  // we never write on the error stream: FIN at once
  CHECK(frames[1].streamId == 1);
  CHECK(frames[1].flags == kFlagFin);
  CHECK(readU32(frames[2].payload) == 3);
  CHECK(server.headersOf(frames[2]) ==
        std::map<std::string, std::string>{{"streamtype", "data"}, {"port", "8080"}, {"requestid", "0"}});
  CHECK(readU32(frames[3].payload) == 5);
  CHECK(server.headersOf(frames[3]).at("requestid") == "1");
  CHECK(server.headersOf(frames[5]) ==
        std::map<std::string, std::string>{{"streamtype", "data"}, {"port", "9090"}, {"requestid", "1"}});
}

TEST_CASE("port-forward data flows both ways and each side finishes on its own", "[kube][spdy]") {
  PortForwardMux mux(PortForwardMuxConfig{1 << 20, 4});
  ScriptedServer server;
  const auto id = *mux.open(80);
  (void)output(mux);
  REQUIRE(mux.send(id, "0123456789"));
  const auto sent = parseAll(output(mux));
  REQUIRE(sent.size() == 3);  // cut into frames of at most maxSendFrame bytes
  CHECK(sent[0].payload + sent[1].payload + sent[2].payload == "0123456789");
  mux.finish(id);
  CHECK_FALSE(mux.send(id, "late"));
  CHECK(parseAll(output(mux))[0].flags == kFlagFin);

  // Blocks must leave the server in order: each one continues the zlib stream of the one before.
  mux.receive(server.synReply(1));
  mux.receive(server.synReply(3));
  mux.receive(server.data(3, "pong") + server.data(3, "", true));
  INFO(mux.failure().value_or("no failure"));
  const auto events = drain(mux);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == PortForwardEvent::Kind::Data);
  CHECK(events[0].text == "pong");
  CHECK(events[1].kind == PortForwardEvent::Kind::End);
  CHECK_FALSE(mux.failure());
}

TEST_CASE("port-forward reports the error stream's message and the server's resets", "[kube][spdy]") {
  PortForwardMux mux;
  ScriptedServer server;
  const auto refused = *mux.open(81);
  const auto reset = *mux.open(82);
  (void)output(mux);
  // The message may arrive in pieces; it is reported once the server finishes the error stream.
  mux.receive(server.data(1, "error forwarding port 81: ") + server.data(1, "connection refused"));
  CHECK(drain(mux).empty());
  mux.receive(server.data(1, "", true) + server.data(refused, "", true));
  auto events = drain(mux);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == PortForwardEvent::Kind::Error);
  CHECK(events[0].connection == refused);
  CHECK(events[0].text == "error forwarding port 81: connection refused");
  CHECK(events[1].kind == PortForwardEvent::Kind::End);

  mux.receive(server.control(ControlType::RstStream, reset, 5));
  events = drain(mux);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == PortForwardEvent::Kind::Reset);
  CHECK_THAT(events[0].text, Catch::Contains("CANCEL"));
  CHECK_FALSE(mux.send(reset, "x"));
}

TEST_CASE("port-forward answers the server's pings, recognises its own, and stops opening after GOAWAY",
          "[kube][spdy]") {
  PortForwardMux mux;
  ScriptedServer server;
  mux.receive(server.control(ControlType::Ping, 2));
  const auto echoed = parseAll(output(mux));
  REQUIRE(echoed.size() == 1);
  CHECK(readU32(echoed[0].payload) == 2);
  mux.ping(1);
  (void)output(mux);
  mux.receive(server.control(ControlType::Ping, 1));
  const auto events = drain(mux);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == PortForwardEvent::Kind::Pong);
  CHECK_FALSE(mux.hasOutput());  // our own ping is not echoed back

  mux.receive(server.control(ControlType::GoAway, 0, 0));
  CHECK(mux.goawayReceived());
  CHECK_FALSE(mux.open(80));
}

TEST_CASE("a released port-forward connection is reset unless both sides finished", "[kube][spdy]") {
  PortForwardMux mux;
  ScriptedServer server;
  const auto open = *mux.open(80);
  const auto done = *mux.open(80);
  (void)output(mux);
  mux.release(open);
  auto frames = parseAll(output(mux));
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].type == static_cast<std::uint16_t>(ControlType::RstStream));
  CHECK(readU32(frames[0].payload) == open);
  CHECK(readU32(frames[1].payload) == open - 2);
  mux.receive(server.data(open, "late bytes"));
  CHECK(drain(mux).empty());  // ignored, not an error

  mux.finish(done);
  mux.receive(server.data(done, "", true) + server.data(done - 2, "", true));
  (void)drain(mux);
  (void)output(mux);
  mux.release(done);
  CHECK_FALSE(mux.hasOutput());
  CHECK(mux.connectionCount() == 0);
}

TEST_CASE("a broken SPDY connection fails as a whole", "[kube][spdy]") {
  PortForwardMux mux;
  const auto id = *mux.open(80);
  (void)output(mux);
  std::string reply;
  appendControl(reply, ControlType::SynReply, 0, std::string("\0\0\0\3garbage", 11));
  mux.receive(reply);
  REQUIRE(mux.failure());
  CHECK_THAT(*mux.failure(), Catch::Contains("headers cannot be read"));
  CHECK_FALSE(mux.open(80));
  CHECK_FALSE(mux.send(id, "x"));

  PortForwardMux shortFrame;
  std::string ping;
  appendControl(ping, ControlType::Ping, 0, "\1");
  shortFrame.receive(ping);
  REQUIRE(shortFrame.failure());
  CHECK_THAT(*shortFrame.failure(), Catch::Contains("PING frame of 1 bytes"));
}
