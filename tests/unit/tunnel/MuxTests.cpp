// MuxTests.cpp - the sans-io multiplexer step by step: two Mux instances wired back to back through the
// real codec, no sockets. Covers opening, ordering, half-close, credit, a stalled reader beside a
// busy stream, limits (streams and total memory), resets and control requests. The zero-copy paths and
// the memory budget are in MuxZeroCopyTests.cpp.
#include <catch2/catch.hpp>

#include "tests/unit/tunnel/MuxTestSupport.hpp"

using namespace tether::tunnel;
using namespace tether::tunnel::testing;

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
  while (std::size_t room = p.client.sendRoom(stalled))
    stalledSent += p.client.send(stalled, std::string(room, 's'));
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
  c.maxOwnStreams = 2;
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
  c.maxPeerStreams = 1;
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

TEST_CASE("tunnel mux: streams each side opened count against budgets of their own", "[tunnel]") {
  // The agent's listener connections (its own streams) are at their limit; the client's dials (the agent's
  // peer streams) still open, and the agent cannot open more of its own until one ends.
  MuxConfig c = Pair::small();
  c.maxOwnStreams = 2;
  c.maxPeerStreams = 2;
  Pair p(c);
  auto first = *p.agent.open(Open{OpenKind::FromListener, 80, "10.0.0.1:1"});
  REQUIRE(p.agent.open(Open{OpenKind::FromListener, 80, "10.0.0.1:2"}));
  CHECK_FALSE(p.agent.open(Open{OpenKind::FromListener, 80, "10.0.0.1:3"}));
  p.flush();
  auto dial = *p.client.open(Open{OpenKind::Dial, 5432, "db"});
  p.flush();
  CHECK(has(events(p.agent), K::Opened));
  CHECK_FALSE(p.client.isReset(dial));
  CHECK(p.agent.ownStreamCount() == 2);
  p.agent.release(first);
  CHECK(p.agent.ownStreamCount() == 1);
  CHECK(p.agent.open(Open{OpenKind::FromListener, 80, "10.0.0.1:4"}));
}

TEST_CASE("tunnel mux: a peer that asks without reading the answers fails the connection", "[tunnel]") {
  // PINGs and DNS queries whose answers pile up unread: the queue stops at its bound, with a reason.
  MuxConfig c = Pair::small();
  c.outputHighWater = 1024;
  c.maxAnswerBacklog = 4096;
  Mux agent(Role::Agent, c, PeerParams{});
  for (std::uint64_t i = 0; i < 1000 && !agent.failure(); ++i) {
    agent.receive(Frame{FrameType::Ping, 0, 0, encodeU64(i)});
    agent.dnsReply(static_cast<std::uint32_t>(i + 1), DnsReply{Code::Ok, "", std::string(100, 'a')});
  }
  REQUIRE(agent.failure());
  CHECK_THAT(*agent.failure(), Catch::Contains("asks faster than it reads"));
  CHECK(agent.outputSize() <= c.outputHighWater + c.maxAnswerBacklog);
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
  SECTION("a second HELLO") {
    agent.receive(Frame{FrameType::Hello, 0, 0, "x"});
  }
  SECTION("malformed WINDOW") {
    agent.receive(Frame{FrameType::Window, 0, 1, "x"});
  }
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
