// MuxTestSupport.hpp - what the mux unit tests share: two Mux instances wired back to back through the
// real codec (Pair), and small readers of their events, streams and output.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "protocol/tunnel/Codec.hpp"
#include "protocol/tunnel/Mux.hpp"

namespace tether::tunnel::testing {

using K = MuxEvent::Kind;

struct Pair {
  MuxConfig config;
  Mux client;
  Mux agent;
  FrameDecoder toAgent;
  FrameDecoder toClient;

  explicit Pair(MuxConfig c = small())
      : config(c),
        client(Role::Client, c, PeerParams{1024, c.streamWindow}),
        agent(Role::Agent, c, PeerParams{1024, c.streamWindow}),
        toAgent(FrameLimits{1024}),
        toClient(FrameLimits{1024}) {}

  static MuxConfig small() {
    MuxConfig c;
    c.streamWindow = 4096;
    c.maxStreamWindow = 4096;  // a fixed window; the growth has tests of its own
    c.maxOwnStreams = 16;
    c.maxPeerStreams = 16;
    c.maxBuffered = 1u << 20;
    c.outputHighWater = 64u * 1024u;
    return c;
  }

  // Moves every queued byte across in both directions until both sides are quiet.
  void flush() {
    for (int round = 0; round < 100 && (client.hasOutput() || agent.hasOutput()); ++round) {
      pipe(client, toAgent, agent);
      pipe(agent, toClient, client);
    }
  }

  static void pipe(Mux& from, FrameDecoder& decoder, Mux& to) {
    ByteBuffer bytes;
    from.takeOutput(bytes);
    decoder.feed(bytes.view());
    while (auto r = decoder.next()) {
      REQUIRE(std::holds_alternative<Frame>(*r));
      to.receive(std::get<Frame>(*r));
    }
  }
};

inline std::vector<MuxEvent> events(Mux& m) {
  std::vector<MuxEvent> out;
  while (auto e = m.popEvent()) out.push_back(std::move(*e));
  return out;
}

inline bool has(const std::vector<MuxEvent>& es, K kind, std::uint32_t id = 0) {
  for (const auto& e : es) {
    if (e.kind == kind && (id == 0 || e.id == id)) return true;
  }
  return false;
}

inline std::string readAll(Mux& m, std::uint32_t id) {
  std::string got(m.peek(id));
  m.consume(id, got.size());
  return got;
}

inline std::string take(Mux& m) {
  ByteBuffer out;
  m.takeOutput(out);
  return std::string(out.view());
}

inline std::vector<Frame> decodeAll(std::string_view bytes) {
  FrameDecoder decoder(FrameLimits{1u << 20});
  decoder.feed(bytes);
  std::vector<Frame> frames;
  while (auto r = decoder.next()) {
    REQUIRE(std::holds_alternative<Frame>(*r));
    frames.push_back(std::get<Frame>(*r));
  }
  REQUIRE(decoder.atFrameBoundary());
  return frames;
}

// The zero-copy path as the pump uses it: prepare, write at most `bytes` into the span, commit.
inline std::size_t sendPrepared(Mux& m, std::uint32_t id, std::string_view bytes) {
  const auto space = m.prepareSend(id, bytes.size());
  const std::size_t n = std::min(space.size(), bytes.size());
  if (n > 0) std::memcpy(space.data(), bytes.data(), n);
  return m.commitSend(id, n);
}

}  // namespace tether::tunnel::testing
