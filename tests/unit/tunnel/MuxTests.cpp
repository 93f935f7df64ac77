// MuxTests.cpp - the sans-io multiplexer step by step: two Mux instances wired back to back through the
// real codec, no sockets. Covers opening, ordering, half-close, credit, a stalled reader beside a
// busy stream, limits (streams and total memory), resets, control requests and the zero-copy send path.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "protocol/tunnel/Codec.hpp"
#include "protocol/tunnel/Mux.hpp"

using namespace tether::tunnel;
using K = MuxEvent::Kind;

namespace {

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
    c.maxStreams = 16;
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

std::vector<MuxEvent> events(Mux& m) {
  std::vector<MuxEvent> out;
  while (auto e = m.popEvent()) out.push_back(std::move(*e));
  return out;
}

bool has(const std::vector<MuxEvent>& es, K kind, std::uint32_t id = 0) {
  for (const auto& e : es) {
    if (e.kind == kind && (id == 0 || e.id == id)) return true;
  }
  return false;
}

std::string readAll(Mux& m, std::uint32_t id) {
  std::string got(m.peek(id));
  m.consume(id, got.size());
  return got;
}

std::string take(Mux& m) {
  ByteBuffer out;
  m.takeOutput(out);
  return std::string(out.view());
}

std::vector<Frame> decodeAll(std::string_view bytes) {
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
std::size_t sendPrepared(Mux& m, std::uint32_t id, std::string_view bytes) {
  const auto space = m.prepareSend(id, bytes.size());
  const std::size_t n = std::min(space.size(), bytes.size());
  if (n > 0) std::memcpy(space.data(), bytes.data(), n);
  return m.commitSend(id, n);
}

}  // namespace

TEST_CASE("tunnel mux: open, accept, data both ways, half-close, close", "[tunnel]") {
  Pair p;
  auto id = p.client.open(Open{OpenKind::Dial, 80, "orders"});
  REQUIRE(id == 1u);
  p.flush();
  auto ev = events(p.agent);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == K::Opened);
  CHECK(ev[0].open.host == "orders");
  p.agent.accept(*id);
  p.flush();
  CHECK(has(events(p.client), K::Accepted, *id));

  CHECK(p.client.send(*id, "request") == 7);
  p.client.finish(*id);
  p.flush();
  CHECK(readAll(p.agent, *id) == "request");
  CHECK(p.agent.remoteFinished(*id));
  // The other direction still flows after the client's half-close.
  CHECK(p.agent.send(*id, "answer") == 6);
  p.agent.finish(*id);
  p.flush();
  CHECK(readAll(p.client, *id) == "answer");
  CHECK(p.client.remoteFinished(*id));
  CHECK_FALSE(p.client.isReset(*id));
  p.client.release(*id);
  p.agent.release(*id);
  p.flush();
  CHECK(p.client.streamCount() == 0);
  CHECK(p.agent.streamCount() == 0);
  // A clean close sends no RESET.
  CHECK_FALSE(has(events(p.client), K::Reset));
}

TEST_CASE("tunnel mux: bytes arrive in order across many frames and credit refills", "[tunnel]") {
  Pair p;
  auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  std::string sent;
  std::string received;
  for (int i = 0; received.size() < 100000; ++i) {
    while (true) {
      const std::size_t room = p.client.sendRoom(id);
      if (room == 0 || sent.size() >= 100000) break;
      std::string chunk;
      for (std::size_t k = 0; k < std::min<std::size_t>({room, 700, 100000 - sent.size()}); ++k) {
        chunk.push_back(static_cast<char>('a' + (sent.size() + k) % 26));
      }
      sent += chunk.substr(0, p.client.send(id, chunk));
    }
    p.flush();
    received += readAll(p.agent, id);
    p.flush();
    REQUIRE(i < 1000);
  }
  CHECK(received == sent.substr(0, received.size()));
  CHECK(received.size() == 100000);
}

TEST_CASE("tunnel mux: a stalled reader stops its own stream only", "[tunnel]") {
  Pair p;
  auto stalled = *p.client.open(Open{OpenKind::Dial, 80, "slow"});
  auto busy = *p.client.open(Open{OpenKind::Dial, 80, "fast"});
  // Fill the stalled stream's window; its reader never consumes.
  std::size_t stalledSent = 0;
  while (std::size_t room = p.client.sendRoom(stalled)) stalledSent += p.client.send(stalled, std::string(room, 's'));
  CHECK(stalledSent == p.config.streamWindow);
  CHECK(p.client.sendRoom(stalled) == 0);
  // The busy stream moves ten windows' worth while the stalled one sits full.
  std::size_t moved = 0;
  for (int i = 0; i < 200 && moved < 10 * p.config.streamWindow; ++i) {
    if (std::size_t room = p.client.sendRoom(busy)) p.client.send(busy, std::string(room, 'b'));
    p.flush();
    moved += readAll(p.agent, busy).size();
    p.flush();
  }
  CHECK(moved >= 10 * p.config.streamWindow);
  CHECK(p.agent.peek(stalled).size() == p.config.streamWindow);
  CHECK(p.client.sendRoom(stalled) == 0);
  // Once the stalled reader consumes, credit comes back.
  readAll(p.agent, stalled);
  p.flush();
  CHECK(has(events(p.client), K::Writable, stalled));
  CHECK(p.client.sendRoom(stalled) > 0);
}

TEST_CASE("tunnel mux: data beyond the window resets that stream with FlowControl", "[tunnel]") {
  Pair p;
  auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  auto other = *p.client.open(Open{OpenKind::Dial, 80, "y"});
  p.flush();
  events(p.agent);
  // A misbehaving peer: hand-encoded DATA frames that ignore the credit.
  Frame f{FrameType::Data, 0, id, std::string(1000, 'x')};
  for (int i = 0; i < 5; ++i) p.agent.receive(f);
  auto ev = events(p.agent);
  REQUIRE(has(ev, K::Reset, id));
  CHECK(p.agent.resetStatus(id).code == Code::FlowControl);
  CHECK(p.agent.bufferedBytes() == 0);
  CHECK_FALSE(p.agent.isReset(other));
  CHECK_FALSE(p.agent.failure());
  p.flush();
  CHECK(p.client.isReset(id));
  CHECK(p.client.resetStatus(id).code == Code::FlowControl);
}

TEST_CASE("tunnel mux: stream limit and GOAWAY refuse new streams, existing ones continue", "[tunnel]") {
  MuxConfig c = Pair::small();
  c.maxStreams = 2;
  Pair p(c);
  auto a = *p.client.open(Open{OpenKind::Dial, 1, "a"});
  auto b = *p.client.open(Open{OpenKind::Dial, 2, "b"});
  CHECK_FALSE(p.client.open(Open{OpenKind::Dial, 3, "c"}));
  p.flush();
  CHECK(p.agent.streamCount() == 2);
  p.agent.goaway(Status{Code::ShuttingDown, "SIGTERM"});
  p.flush();
  auto ev = events(p.client);
  CHECK(has(ev, K::Goaway));
  CHECK(p.client.goawayReceived());
  p.client.release(b);
  CHECK_FALSE(p.client.open(Open{OpenKind::Dial, 3, "c"}));
  CHECK(p.client.send(a, "still here") == 10);
  p.flush();
  CHECK(p.agent.peek(a) == "still here");
}

TEST_CASE("tunnel mux: a peer-opened stream over the limit is reset Busy", "[tunnel]") {
  MuxConfig c = Pair::small();
  c.maxStreams = 1;
  Mux agent(Role::Agent, c, PeerParams{});
  agent.receive(Frame{FrameType::Open, 0, 1, encode(Open{OpenKind::Dial, 1, "a"})});
  agent.receive(Frame{FrameType::Open, 0, 3, encode(Open{OpenKind::Dial, 1, "b"})});
  CHECK(agent.streamCount() == 1);
  ByteBuffer out;
  agent.takeOutput(out);
  FrameDecoder d;
  d.feed(out.view());
  auto r = d.next();
  REQUIRE(r);
  auto& f = std::get<Frame>(*r);
  CHECK(f.type == FrameType::Reset);
  CHECK(f.id == 3);
  CHECK(parseStatus(f.payload)->code == Code::Busy);
}

TEST_CASE("tunnel mux: connection-level violations fail the connection", "[tunnel]") {
  Mux agent(Role::Agent, Pair::small(), PeerParams{});
  SECTION("even stream id from the client") {
    agent.receive(Frame{FrameType::Open, 0, 2, encode(Open{OpenKind::Dial, 1, "a"})});
  }
  SECTION("reused stream id") {
    agent.receive(Frame{FrameType::Open, 0, 5, encode(Open{OpenKind::Dial, 1, "a"})});
    agent.receive(Frame{FrameType::Open, 0, 3, encode(Open{OpenKind::Dial, 1, "a"})});
  }
  SECTION("a second HELLO") { agent.receive(Frame{FrameType::Hello, 0, 0, "x"}); }
  SECTION("malformed WINDOW") { agent.receive(Frame{FrameType::Window, 0, 1, "x"}); }
  CHECK(agent.failure());
}

TEST_CASE("tunnel mux: reset by the peer wakes the stream and drops its buffer", "[tunnel]") {
  Pair p;
  auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  p.agent.receive(Frame{});  // a stray DATA for stream 0 is ignored
  p.flush();
  p.agent.send(id, "partial");
  p.flush();
  CHECK(p.client.bufferedBytes() == 7);
  p.agent.reset(id, Code::Unreachable, "connection refused");
  p.flush();
  auto ev = events(p.client);
  REQUIRE(has(ev, K::Reset, id));
  CHECK(p.client.resetStatus(id).message == "connection refused");
  CHECK(p.client.bufferedBytes() == 0);
  CHECK(p.client.sendRoom(id) == 0);
}

TEST_CASE("tunnel mux: output high water blocks data until drained, then wakes the stream", "[tunnel]") {
  MuxConfig c = Pair::small();
  c.outputHighWater = 2000;
  c.streamWindow = 1u << 20;
  Pair p(c);
  auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  while (std::size_t room = p.client.sendRoom(id)) p.client.send(id, std::string(room, 'q'));
  CHECK(p.client.outputSize() >= 2000);
  CHECK(p.client.outputSize() < 2000 + 1024 + 2 * kHeaderSize + 100);
  ByteBuffer out;
  p.client.takeOutput(out);
  CHECK(has(events(p.client), K::Writable, id));
  CHECK(p.client.sendRoom(id) > 0);
}

TEST_CASE("tunnel mux: transport loss resets every stream locally", "[tunnel]") {
  Pair p;
  auto a = *p.client.open(Open{OpenKind::Dial, 1, "a"});
  auto b = *p.client.open(Open{OpenKind::Dial, 2, "b"});
  p.client.failAll(Status{Code::TransportLost, "EOF"});
  auto ev = events(p.client);
  CHECK(has(ev, K::Reset, a));
  CHECK(has(ev, K::Reset, b));
  CHECK(p.client.resetStatus(a).code == Code::TransportLost);
}

TEST_CASE("tunnel mux: ping, DNS and listener requests carry their ids", "[tunnel]") {
  Pair p;
  p.client.ping(1234);
  auto q = p.client.dnsQuery("query-bytes");
  auto l = p.client.listen(8080);
  p.flush();
  auto ev = events(p.agent);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].kind == K::DnsQuery);
  CHECK(ev[0].payload == "query-bytes");
  CHECK(ev[1].kind == K::Listen);
  CHECK(ev[1].port == 8080);
  p.agent.dnsReply(q, DnsReply{Code::Ok, "", "answer"});
  p.agent.listenResult(l, ListenResult{Code::BindFailed, 8080, "Address already in use"});
  p.flush();
  auto back = events(p.client);
  REQUIRE(back.size() == 3);
  CHECK(back[0].kind == K::Pong);
  CHECK(back[0].value == 1234);
  CHECK(back[1].kind == K::DnsReply);
  CHECK(back[1].id == q);
  CHECK(back[1].payload == "answer");
  CHECK(back[2].kind == K::ListenResult);
  CHECK(back[2].status.code == Code::BindFailed);
  CHECK(back[2].status.message == "Address already in use");
}

TEST_CASE("tunnel mux: prepareSend/commitSend queue exactly the frames send() queues", "[tunnel]") {
  const MuxConfig c = Pair::small();
  Mux viaSend(Role::Client, c, PeerParams{1024, c.streamWindow});
  Mux viaPrepare(Role::Client, c, PeerParams{1024, c.streamWindow});
  const auto id = *viaSend.open(Open{OpenKind::Dial, 80, "x"});
  REQUIRE(viaPrepare.open(Open{OpenKind::Dial, 80, "x"}) == id);
  CHECK(take(viaSend) == take(viaPrepare));
  // Chunks below, at and above the peer's max frame (1024), until the 4096-byte credit runs out.
  std::string pattern;
  for (int i = 0; i < 5000; ++i) pattern.push_back(static_cast<char>('a' + i % 26));
  std::size_t offset = 0;
  for (std::size_t size : {1u, 100u, 1024u, 3000u, 700u, 2000u, 2000u}) {
    const std::string_view chunk = std::string_view(pattern).substr(offset % 1000, size);
    const std::size_t a = viaSend.send(id, chunk);
    const std::size_t b = sendPrepared(viaPrepare, id, chunk);
    CHECK(a == b);
    CHECK(viaSend.sendRoom(id) == viaPrepare.sendRoom(id));
    offset += a;
  }
  CHECK(offset == c.streamWindow);
  CHECK(viaPrepare.prepareSend(id, 100).empty());
  const std::string expected = take(viaSend);
  CHECK(take(viaPrepare) == expected);
  CHECK(decodeAll(expected).size() == 7);  // one frame per accepted chunk: 1, 100, 1024, 1024, 700, 1024, 223
}

TEST_CASE("tunnel mux: a prepared send reserves within the credit and the peer's max frame", "[tunnel]") {
  Pair p;
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  take(p.client);
  CHECK(p.client.prepareSend(id, 100000).size() == 1024);  // the peer's max frame
  CHECK(p.client.commitSend(id, 1024) == 1024);
  CHECK(p.client.prepareSend(id, 10).size() == 10);  // the caller's bound
  CHECK(p.client.commitSend(id, 10) == 10);
  std::size_t committed = 1034;
  while (true) {
    const auto space = p.client.prepareSend(id, 100000);
    if (space.empty()) break;
    committed += p.client.commitSend(id, space.size());
  }
  CHECK(committed == p.config.streamWindow);
  CHECK(p.client.sendRoom(id) == 0);
  CHECK(p.client.send(id, "more") == 0);
}

TEST_CASE("tunnel mux: committing nothing queues nothing and spends no credit", "[tunnel]") {
  Pair p;
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  take(p.client);
  const std::size_t room = p.client.sendRoom(id);
  const auto space = p.client.prepareSend(id, 512);
  REQUIRE(space.size() == 512);
  std::memset(space.data(), 'z', space.size());  // written, then not committed (e.g. the read failed)
  CHECK(p.client.commitSend(id, 0) == 0);
  CHECK_FALSE(p.client.hasOutput());
  CHECK(p.client.sendRoom(id) == room);
}

TEST_CASE("tunnel mux: committing fewer bytes than prepared sends exactly those", "[tunnel]") {
  Pair p;
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  p.flush();
  const auto space = p.client.prepareSend(id, 1024);
  REQUIRE(space.size() == 1024);
  std::memcpy(space.data(), "short", 5);
  CHECK(p.client.commitSend(id, 5) == 5);
  CHECK(sendPrepared(p.client, id, "er") == 2);
  CHECK(p.client.outputSize() == 2 * kHeaderSize + 7);
  p.flush();
  CHECK(readAll(p.agent, id) == "shorter");
  CHECK(p.client.sendRoom(id) == 1024);  // min(credit 4089, max frame)
  while (sendPrepared(p.client, id, std::string(1024, 'f')) > 0) {
  }
  p.flush();
  // The 7 bytes read above are not yet returned as credit (under a quarter window), so the rest is 4089.
  CHECK(p.agent.peek(id) == std::string(p.config.streamWindow - 7, 'f'));
}

TEST_CASE("tunnel mux: misuse of a prepared send never puts unwritten bytes on the wire", "[tunnel]") {
  Pair p;
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  p.flush();
  SECTION("commit without prepare") {
    CHECK(p.client.commitSend(id, 10) == 0);
  }
  SECTION("a second prepare replaces the first") {
    p.client.prepareSend(id, 100);
    CHECK(sendPrepared(p.client, id, "second") == 6);
  }
  SECTION("commit for another stream drops it") {
    const auto other = *p.client.open(Open{OpenKind::Dial, 80, "y"});
    p.flush();
    p.client.prepareSend(id, 100);
    CHECK(p.client.commitSend(other, 10) == 0);
    CHECK(p.client.commitSend(id, 10) == 0);
  }
  SECTION("another frame queued in between abandons it") {
    p.client.prepareSend(id, 100);
    p.client.ping(7);
    CHECK(p.client.commitSend(id, 10) == 0);
    const auto frames = decodeAll(take(p.client));
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].type == FrameType::Ping);
  }
  SECTION("taking the output in between abandons it") {
    p.client.prepareSend(id, 100);
    CHECK(take(p.client).empty());
    CHECK(p.client.commitSend(id, 10) == 0);
  }
  SECTION("a RESET from the peer in between drops it") {
    p.client.prepareSend(id, 100);
    p.client.receive(Frame{FrameType::Reset, 0, id, encode(Status{Code::Refused, "no"})});
    CHECK(p.client.commitSend(id, 10) == 0);
  }
  CHECK(p.client.sendRoom(id) == (p.client.isReset(id) ? 0 : 1024));
  const auto frames = decodeAll(take(p.client));
  for (const auto& f : frames) CHECK((f.type != FrameType::Data || f.payload == "second"));
}

TEST_CASE("tunnel mux: past the memory budget the stream with the largest buffer is reset",
          "[tunnel]") {
  MuxConfig c = Pair::small();  // 4096-byte window
  SECTION("a stopped reader is reset, the busy stream keeps its data") {
    c.maxBuffered = 6000;
    Pair p(c);
    const auto stalled = *p.client.open(Open{OpenKind::Dial, 80, "slow"});
    const auto busy = *p.client.open(Open{OpenKind::Dial, 80, "fast"});
    while (std::size_t room = p.client.sendRoom(stalled)) p.client.send(stalled, std::string(room, 's'));
    p.client.send(busy, std::string(1000, 'b'));
    p.flush();
    CHECK(p.agent.bufferedBytes() == 5096);
    p.client.send(busy, std::string(1000, 'c'));
    p.flush();
    CHECK(p.agent.isReset(stalled));
    CHECK(p.agent.resetStatus(stalled).code == Code::Busy);
    CHECK_FALSE(p.agent.isReset(busy));
    CHECK(p.agent.peek(busy) == std::string(1000, 'b') + std::string(1000, 'c'));
    CHECK(p.agent.bufferedBytes() == 2000);
    CHECK(p.client.isReset(stalled));  // the peer learns why
    CHECK(p.client.resetStatus(stalled).code == Code::Busy);
  }
  SECTION("the arriving stream is reset when its buffer would be the largest") {
    c.maxBuffered = 4000;
    Pair p(c);
    const auto small = *p.client.open(Open{OpenKind::Dial, 80, "small"});
    const auto big = *p.client.open(Open{OpenKind::Dial, 80, "big"});
    p.client.send(small, std::string(1000, 's'));
    p.client.send(big, std::string(1024, 'b'));
    p.client.send(big, std::string(1024, 'b'));
    p.flush();
    CHECK(p.agent.bufferedBytes() == 3048);
    CHECK(p.agent.heldBytes() == 3048);
    // The third frame doubles big's buffer to 4096, past the 4000 budget, and big would be the largest.
    p.client.send(big, std::string(1024, 'b'));
    p.flush();
    CHECK(p.agent.isReset(big));
    CHECK(p.agent.resetStatus(big).code == Code::Busy);
    CHECK(p.agent.peek(small) == std::string(1000, 's'));
    CHECK(p.agent.bufferedBytes() == 1000);
    CHECK(p.agent.heldBytes() == 1000);
  }
  SECTION("a drained stream gives its buffer back") {
    Pair p(c);
    const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
    while (std::size_t room = p.client.sendRoom(id)) p.client.send(id, std::string(room, 'd'));
    p.flush();
    CHECK(p.agent.heldBytes() == 4096);
    readAll(p.agent, id);
    CHECK(p.agent.heldBytes() == 0);
  }
}

TEST_CASE("tunnel mux: a reader that consumes part of the data at a time gets every byte in order",
          "[tunnel]") {
  Pair p;
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  std::string sent;
  std::string received;
  std::size_t next = 0;
  for (int i = 0; received.size() < 60000; ++i) {
    while (std::size_t room = p.client.sendRoom(id)) {
      std::string chunk;
      for (std::size_t k = 0; k < std::min<std::size_t>(room, 333); ++k)
        chunk.push_back(static_cast<char>(next++ % 251));
      sent += chunk.substr(0, sendPrepared(p.client, id, chunk));
      next = sent.size();
    }
    p.flush();
    // Consuming a third leaves unread bytes at the front of the buffer while new ones arrive behind them.
    const std::string_view pending = p.agent.peek(id);
    CHECK(pending.size() <= p.config.streamWindow);
    received += pending.substr(0, pending.size() / 3 + 1);
    p.agent.consume(id, pending.size() / 3 + 1);
    p.flush();
    REQUIRE(i < 5000);
  }
  CHECK(received == sent.substr(0, received.size()));
}

TEST_CASE("tunnel mux: DATA delivered directly counts as consumed, only the rest is buffered", "[tunnel]") {
  Pair p;
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  p.flush();
  events(p.agent);
  const FrameView whole{FrameType::Data, 0, id, std::string_view("0123456789")};
  REQUIRE(p.agent.canDeliverDirect(whole));

  SECTION("all of it") {
    p.agent.receiveDelivered(whole, 10);
    CHECK(p.agent.peek(id).empty());
    CHECK(p.agent.bufferedBytes() == 0);
    CHECK_FALSE(has(events(p.agent), K::Readable, id));
  }
  SECTION("part of it: the rest is readable, and later DATA queues behind it") {
    p.agent.receiveDelivered(whole, 4);
    CHECK(p.agent.peek(id) == "456789");
    CHECK(has(events(p.agent), K::Readable, id));
    const FrameView next{FrameType::Data, 0, id, std::string_view("ab")};
    CHECK_FALSE(p.agent.canDeliverDirect(next));  // unread bytes come first
    p.agent.receive(next);
    CHECK(readAll(p.agent, id) == "456789ab");
  }
  SECTION("none of it (the socket would block)") {
    p.agent.receiveDelivered(whole, 0);
    CHECK(readAll(p.agent, id) == "0123456789");
  }
}

TEST_CASE("tunnel mux: directly delivered bytes return credit like consumed ones", "[tunnel]") {
  Pair p;
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  p.flush();
  // The client sends its whole window; the agent hands every frame straight to its reader.
  std::size_t sent = 0;
  while (std::size_t room = p.client.sendRoom(id)) sent += p.client.send(id, std::string(room, 'w'));
  CHECK(sent == p.config.streamWindow);
  ByteBuffer wire;
  p.client.takeOutput(wire);
  FrameDecoder decoder(FrameLimits{1024});
  decoder.feed(wire.view());
  while (auto r = decoder.nextView()) {
    const auto& f = std::get<FrameView>(*r);
    REQUIRE(p.agent.canDeliverDirect(f));
    p.agent.receiveDelivered(f, f.payload.size());
  }
  CHECK(p.agent.bufferedBytes() == 0);
  p.flush();
  CHECK(has(events(p.client), K::Writable, id));
  CHECK(p.client.sendRoom(id) == 1024);
  // Beyond the window, DATA is never delivered directly; receiving it resets the stream as before.
  const std::string extra(p.config.streamWindow + 1, 'x');
  const FrameView tooMuch{FrameType::Data, 0, id, extra};
  CHECK_FALSE(p.agent.canDeliverDirect(tooMuch));
}

TEST_CASE("tunnel mux: only DATA the stream would accept may be delivered directly", "[tunnel]") {
  Pair p;
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "x"});
  p.flush();
  CHECK_FALSE(p.agent.canDeliverDirect(FrameView{FrameType::Data, 0, id, ""}));
  CHECK_FALSE(p.agent.canDeliverDirect(FrameView{FrameType::Ping, 0, id, "12345678"}));
  CHECK_FALSE(p.agent.canDeliverDirect(FrameView{FrameType::Data, 0, id + 2, "x"}));  // unknown stream
  SECTION("after FIN") {
    p.client.finish(id);
    p.flush();
    CHECK_FALSE(p.agent.canDeliverDirect(FrameView{FrameType::Data, 0, id, "x"}));
  }
  SECTION("after RESET") {
    p.agent.reset(id, Code::Cancelled, "gone");
    CHECK_FALSE(p.agent.canDeliverDirect(FrameView{FrameType::Data, 0, id, "x"}));
    // Misuse is harmless: an undeliverable frame given to receiveDelivered is only received.
    p.agent.receiveDelivered(FrameView{FrameType::Data, 0, id, "x"}, 1);
    CHECK(p.agent.bufferedBytes() == 0);
  }
}
