// MuxWindowTests.cpp - the receive window that grows for a reader keeping pace with its sender, and
// stays put for one that falls behind or when the receive buffers are half the budget.
#include "tests/unit/tunnel/MuxTestSupport.hpp"

using namespace tether::tunnel;
using namespace tether::tunnel::testing;

namespace {

MuxConfig growing() {
  MuxConfig c = Pair::small();
  c.maxStreamWindow = 4 * c.streamWindow;
  return c;
}

// Sends on `id` until the credit is spent; returns how many bytes that was (the window in flight).
std::size_t fillCredit(Pair& p, std::uint32_t id, char fill) {
  std::size_t sent = 0;
  while (std::size_t room = p.client.sendRoom(id)) sent += p.client.send(id, std::string(room, fill));
  return sent;
}

}  // namespace

TEST_CASE("tunnel mux: a reader that keeps up earns a window doubled up to maxStreamWindow, no further",
          "[tunnel]") {
  Pair p(growing());
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "bulk"});
  std::vector<std::size_t> inFlight;
  std::string received;
  for (int round = 0; round < 5; ++round) {
    inFlight.push_back(fillCredit(p, id, static_cast<char>('a' + round)));
    p.flush();
    CHECK(p.agent.peek(id).size() <= p.config.maxStreamWindow);
    received += readAll(p.agent, id);
    p.flush();
  }
  const std::size_t w = p.config.streamWindow;
  CHECK(inFlight == std::vector<std::size_t>{w, 2 * w, 4 * w, 4 * w, 4 * w});
  std::string expected;
  for (int round = 0; round < 5; ++round)
    expected += std::string(inFlight[round], static_cast<char>('a' + round));
  CHECK(received == expected);
}

TEST_CASE("tunnel mux: a reader that falls behind keeps the window it had", "[tunnel]") {
  Pair p(growing());
  const auto id = *p.client.open(Open{OpenKind::Dial, 80, "slow"});
  const std::size_t w = p.config.streamWindow;
  for (int round = 0; round < 8; ++round) {
    fillCredit(p, id, 'x');
    p.flush();
    // Never more unread bytes than the first window, and credit never beyond it either.
    CHECK(p.agent.peek(id).size() <= w);
    CHECK(p.agent.peek(id).size() + p.client.sendRoom(id) <= w);
    // Half of what is there is read: something always stays unread when credit goes back.
    const std::size_t half = p.agent.peek(id).size() / 2;
    p.agent.consume(id, half);
    p.flush();
  }
  CHECK(p.agent.peek(id).size() + p.client.sendRoom(id) <= w);
}

TEST_CASE("tunnel mux: no stream earns a larger window while the buffers hold half the budget", "[tunnel]") {
  MuxConfig c = growing();
  c.maxBuffered = 3 * c.streamWindow;
  Pair p(c);
  // Two stalled streams hold two windows: at least half of the budget.
  for (const char* name : {"stalled-1", "stalled-2"}) {
    const auto stalled = *p.client.open(Open{OpenKind::Dial, 80, name});
    fillCredit(p, stalled, 's');
    p.flush();
  }
  REQUIRE(p.agent.heldBytes() >= c.maxBuffered / 2);
  const auto fast = *p.client.open(Open{OpenKind::Dial, 80, "fast"});
  for (int round = 0; round < 4; ++round) {
    CHECK(fillCredit(p, fast, 'f') == c.streamWindow);
    p.flush();
    readAll(p.agent, fast);
    p.flush();
  }
  CHECK(p.agent.streamCount() == 3);  // nobody was reset to make room
}
