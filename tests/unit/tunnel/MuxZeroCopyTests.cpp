// MuxZeroCopyTests.cpp - the mux's zero-copy paths (prepareSend/commitSend, direct delivery) and its
// memory budget, step by step without sockets.
#include <catch2/catch.hpp>

#include "tests/unit/tunnel/MuxTestSupport.hpp"

using namespace tether::tunnel;
using namespace tether::tunnel::testing;

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

TEST_CASE("tunnel mux: past the memory budget the stream with the largest buffer is reset", "[tunnel]") {
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
