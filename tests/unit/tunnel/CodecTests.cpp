// CodecTests.cpp - the tunnel frame codec under a fail matrix: every split point, truncation,
// oversized lengths, unknown types and garbage, plus the payload parsers and the token compare.
#include <catch2/catch.hpp>

#include <string>
#include <variant>
#include <vector>

#include "protocol/tunnel/Codec.hpp"
#include "protocol/tunnel/Handshake.hpp"
#include "protocol/tunnel/Messages.hpp"

using namespace tether::tunnel;

namespace {

std::string sampleStream() {
  std::string out;
  encodeFrame(out, FrameType::Hello, 0, encode(Hello{1, "secret", 65536, 262144, "laptop"}));
  encodeFrame(out, FrameType::Open, 1, encode(Open{OpenKind::Dial, 8080, "orders.ns"}));
  encodeFrame(out, FrameType::Data, 1, std::string(300, 'x'));
  encodeFrame(out, FrameType::Fin, 1, {});
  encodeFrame(out, FrameType::Reset, 3, encode(Status{Code::DnsFailure, "no such host"}));
  encodeFrame(out, FrameType::Window, 1, encodeU32(4096));
  encodeFrame(out, FrameType::Ping, 0, encodeU64(42));
  return out;
}

std::vector<Frame> drain(FrameDecoder& d, std::optional<std::string>* error = nullptr) {
  std::vector<Frame> frames;
  while (auto r = d.next()) {
    if (auto* f = std::get_if<Frame>(&*r)) {
      frames.push_back(std::move(*f));
    } else if (error) {
      *error = std::get<DecodeError>(*r).message;
    }
  }
  return frames;
}

}  // namespace

TEST_CASE("tunnel codec: every split point of a frame sequence decodes the same frames", "[tunnel]") {
  const std::string wire = sampleStream();
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    FrameDecoder d;
    d.feed(std::string_view(wire).substr(0, split));
    auto frames = drain(d);
    d.feed(std::string_view(wire).substr(split));
    auto rest = drain(d);
    frames.insert(frames.end(), rest.begin(), rest.end());
    REQUIRE(frames.size() == 7);
    CHECK(frames[0].type == FrameType::Hello);
    CHECK(frames[2].payload == std::string(300, 'x'));
    CHECK(frames[6].type == FrameType::Ping);
    CHECK(d.atFrameBoundary());
  }
}

TEST_CASE("tunnel codec: byte-by-byte feeding", "[tunnel]") {
  const std::string wire = sampleStream();
  FrameDecoder d;
  std::vector<Frame> frames;
  for (char c : wire) {
    d.feed(std::string_view(&c, 1));
    auto got = drain(d);
    frames.insert(frames.end(), got.begin(), got.end());
  }
  REQUIRE(frames.size() == 7);
  auto open = parseOpen(frames[1].payload);
  REQUIRE(open);
  CHECK(open->host == "orders.ns");
  CHECK(open->port == 8080);
}

TEST_CASE("tunnel codec: a truncated stream yields only whole frames and is not at a boundary", "[tunnel]") {
  const std::string wire = sampleStream();
  for (std::size_t cut = 0; cut < wire.size(); ++cut) {
    FrameDecoder d;
    d.feed(std::string_view(wire).substr(0, cut));
    std::optional<std::string> error;
    auto frames = drain(d, &error);
    CHECK_FALSE(error);
    CHECK(frames.size() < 7);
    if (cut > 0) CHECK((d.atFrameBoundary() || d.bufferedBytes() > 0));
  }
}

TEST_CASE("tunnel codec: an oversized frame is refused from its header, before any payload is held",
          "[tunnel]") {
  FrameDecoder d(FrameLimits{1024});
  std::string header;
  encodeFrame(header, FrameType::Data, 1, {});
  header[6] = '\x7f';  // length 0x7f000000
  d.feed(header);
  auto r = d.next();
  REQUIRE(r);
  REQUIRE(std::holds_alternative<DecodeError>(*r));
  CHECK_THAT(std::get<DecodeError>(*r).message, Catch::Contains("exceeds the limit"));
  CHECK(d.failed());
  d.feed(std::string(4096, 'y'));
  CHECK(d.bufferedBytes() == 0);
  CHECK_FALSE(d.next());
}

TEST_CASE("tunnel codec: a frame exactly at the limit passes, one byte more fails", "[tunnel]") {
  auto at = GENERATE(1024u, 1025u);
  std::string wire;
  encodeFrame(wire, FrameType::Data, 1, std::string(at, 'a'));
  FrameDecoder d(FrameLimits{1024});
  d.feed(wire);
  auto r = d.next();
  REQUIRE(r);
  CHECK(std::holds_alternative<Frame>(*r) == (at == 1024u));
}

TEST_CASE("tunnel codec: unknown types are skipped when ignorable, fatal otherwise", "[tunnel]") {
  std::string wire;
  encodeFrame(wire, static_cast<FrameType>(0x60), 0, std::string(100, 'z'), kFlagIgnorable);
  encodeFrame(wire, FrameType::Ping, 0, encodeU64(7));
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    FrameDecoder d;
    d.feed(std::string_view(wire).substr(0, split));
    auto frames = drain(d);
    d.feed(std::string_view(wire).substr(split));
    auto rest = drain(d);
    frames.insert(frames.end(), rest.begin(), rest.end());
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].type == FrameType::Ping);
  }
  std::string fatal;
  encodeFrame(fatal, static_cast<FrameType>(0x60), 0, "abc");
  FrameDecoder d;
  d.feed(fatal);
  std::optional<std::string> error;
  CHECK(drain(d, &error).empty());
  REQUIRE(error);
  CHECK_THAT(*error, Catch::Contains("unknown frame type 96"));
}

TEST_CASE("tunnel codec: garbage (an HTTP request) on the tunnel port is a terminal error", "[tunnel]") {
  FrameDecoder d(FrameLimits{4096});
  d.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::optional<std::string> error;
  CHECK(drain(d, &error).empty());
  CHECK(error);
  CHECK(d.failed());
}

TEST_CASE("tunnel payloads: round trips and truncation", "[tunnel]") {
  const Hello hello{2, "nonce", 1000, 2000, "me"};
  auto parsed = parseHello(encode(hello));
  REQUIRE(parsed);
  CHECK(parsed->nonce == "nonce");
  CHECK(parsed->maxFrame == 1000);
  CHECK(parsed->streamWindow == 2000);
  CHECK(versionOf(encode(hello)) == 2);
  const Welcome welcome{2, 1000, 2000, "agent", "n2", "uid-1", "proof"};
  auto back = parseWelcome(encode(welcome));
  REQUIRE(back);
  CHECK((back->nonce == "n2" && back->identity == "uid-1" && back->proof == "proof"));
  const std::string wholeWelcome = encode(welcome);
  for (std::size_t cut = 0; cut < wholeWelcome.size(); ++cut)
    CHECK_FALSE(parseWelcome(wholeWelcome.substr(0, cut)));
  const std::string full = encode(hello);
  for (std::size_t cut = 0; cut < full.size(); ++cut) CHECK_FALSE(parseHello(full.substr(0, cut)));
  // Trailing fields from a newer peer are ignored.
  CHECK(parseHello(full + "future"));

  auto lr = parseListenResult(encode(ListenResult{Code::BindFailed, 8080, "Address already in use"}));
  REQUIRE(lr);
  CHECK(lr->code == Code::BindFailed);
  CHECK(lr->port == 8080);
  auto dns = parseDnsReply(encode(DnsReply{Code::Ok, "", std::string("\x12\x34", 2)}));
  REQUIRE(dns);
  CHECK(dns->answer.size() == 2);
  CHECK(parseStatus(encode(Status{static_cast<Code>(999), "x"}))->code == Code::Refused);
  CHECK_FALSE(parseOpen(std::string("\x07\x00\x50\x00\x00", 5)));  // unknown kind
  CHECK_FALSE(versionOf("GET / HTTP/1.1"));
}

TEST_CASE("tunnel token compare: equal only for identical strings", "[tunnel]") {
  CHECK(constantTimeEqual("abc", "abc"));
  CHECK(constantTimeEqual("", ""));
  CHECK_FALSE(constantTimeEqual("abc", "abd"));
  CHECK_FALSE(constantTimeEqual("abc", "abcd"));
  CHECK_FALSE(constantTimeEqual("abc", ""));
  CHECK_FALSE(constantTimeEqual(std::string("a\0", 2), "a"));
}

TEST_CASE("tunnel handshake: the agent checks the version first, then the rest of HELLO", "[tunnel]") {
  const std::string nonce(kNonceSize, 'c');
  auto helloFrame = [](Hello h) { return Frame{FrameType::Hello, 0, 0, encode(h)}; };
  CHECK(checkHello(helloFrame({2, nonce, 4096, 4096, "me"})).status.code == Code::Ok);
  auto mismatch = checkHello(helloFrame({1, nonce, 4096, 4096, "me"})).status;
  CHECK(mismatch.code == Code::VersionMismatch);
  CHECK(mismatch.message == "agent speaks tunnel protocol 2, client sent 1");
  // A future HELLO that changed after the version still gets the mismatch, not "malformed".
  Frame future{FrameType::Hello, 0, 0, std::string("TTHR\x00\x07garbage", 13)};
  CHECK(checkHello(future).status.code == Code::VersionMismatch);
  CHECK(checkHello(helloFrame({2, "short", 4096, 4096, "me"})).status.code == Code::ProtocolError);
  CHECK(checkHello(Frame{FrameType::Data, 0, 1, "x"}).status.code == Code::ProtocolError);
  CHECK(checkHello(Frame{FrameType::Hello, 0, 0, "HTTP"}).status.code == Code::ProtocolError);
}

TEST_CASE("tunnel handshake: each side proves the token without sending it; the client pins the identity",
          "[tunnel]") {
  const std::string clientNonce(kNonceSize, 'c'), agentNonce(kNonceSize, 'a');
  auto welcomeFrame = [&](const std::string& token, const std::string& identity) {
    return Frame{FrameType::Welcome, 0, 0,
                 encode(Welcome{2, 65536, 65536, "agent", agentNonce, identity,
                                agentProof(token, clientNonce, agentNonce, identity)})};
  };
  auto ok = checkWelcome(welcomeFrame("tok", "uid-1"), "tok", clientNonce, "uid-1");
  CHECK(ok.status.code == Code::Ok);
  CHECK(ok.welcome.peer == "agent");
  // An agent that does not hold the token cannot make the proof; nothing of the token was on the wire.
  auto impostor = checkWelcome(welcomeFrame("guess", "uid-1"), "tok", clientNonce, "uid-1");
  CHECK(impostor.status.code == Code::BadToken);
  CHECK_THAT(impostor.status.message, Catch::Contains("could not prove"));
  // A pod holding the token (it read the Secret) but not the pod this session created.
  auto other = checkWelcome(welcomeFrame("tok", "uid-2"), "tok", clientNonce, "uid-1");
  CHECK(other.status.code == Code::WrongPeer);
  CHECK_THAT(other.status.message, Catch::Contains("uid-2") && Catch::Contains("uid-1"));
  // The proof covers the identity: announcing another one after proving breaks the proof.
  Welcome lying{
      2, 65536, 65536, "agent", agentNonce, "uid-1", agentProof("tok", clientNonce, agentNonce, "uid-2")};
  CHECK(checkWelcome(Frame{FrameType::Welcome, 0, 0, encode(lying)}, "tok", clientNonce, "").status.code ==
        Code::BadToken);
  auto refused =
      checkWelcome(Frame{FrameType::Goaway, 0, 0, encode(Status{Code::BadToken, "wrong session token"})},
                   "tok", clientNonce, "");
  CHECK(refused.status.code == Code::BadToken);

  const auto proof = clientProof("tok", clientNonce, agentNonce, "uid-1");
  CHECK(proof.size() == 32u);
  CHECK(proof != agentProof("tok", clientNonce, agentNonce, "uid-1"));  // one side's proof is not the other's
  CHECK(checkAuth(Frame{FrameType::Auth, 0, 0, encode(Auth{proof})}, "tok", clientNonce, agentNonce, "uid-1")
            .code == Code::Ok);
  CHECK(checkAuth(Frame{FrameType::Auth, 0, 0, encode(Auth{proof})}, "tik", clientNonce, agentNonce, "uid-1")
            .code == Code::BadToken);
  // A replayed AUTH from another connection fails: the agent's nonce differs.
  CHECK(checkAuth(Frame{FrameType::Auth, 0, 0, encode(Auth{proof})}, "tok", clientNonce,
                  std::string(kNonceSize, 'b'), "uid-1")
            .code == Code::BadToken);
  CHECK(checkAuth(Frame{FrameType::Open, 0, 1, "x"}, "tok", clientNonce, agentNonce, "").code ==
        Code::ProtocolError);
}

TEST_CASE("tunnel codec: zero-copy prepare/commit feeding, with an ignorable frame, at every split",
          "[tunnel]") {
  std::string wire = sampleStream();
  encodeFrame(wire, static_cast<FrameType>(0x61), 0, std::string(5000, 'i'), kFlagIgnorable);
  encodeFrame(wire, FrameType::Data, 9, "tail");
  for (std::size_t split = 0; split <= wire.size(); split += 7) {
    FrameDecoder d;
    std::vector<std::string> payloads;
    for (auto part : {std::string_view(wire).substr(0, split), std::string_view(wire).substr(split)}) {
      char* space = d.prepare(part.size() + 100);
      std::copy(part.begin(), part.end(), space);
      d.commit(part.size());
      while (auto r = d.nextView()) {
        REQUIRE(std::holds_alternative<FrameView>(*r));
        payloads.emplace_back(std::get<FrameView>(*r).payload);
      }
    }
    REQUIRE(payloads.size() == 8);
    CHECK(payloads[2] == std::string(300, 'x'));
    CHECK(payloads[7] == "tail");
    CHECK(d.atFrameBoundary());
  }
}
