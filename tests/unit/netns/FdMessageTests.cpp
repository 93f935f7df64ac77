// FdMessageTests.cpp - the wrapper's control messages: words, descriptors that arrive working, the end.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "server/netns/FdMessage.hpp"

using namespace tether::netns;

namespace {

struct Pair {
  int a = -1;
  int b = -1;
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    a = fds[0];
    b = fds[1];
  }
  ~Pair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

}  // namespace

TEST_CASE("a message keeps its boundary and its descriptors work on the other side", "[netns]") {
  Pair pair;
  int pipeFds[2];
  REQUIRE(::pipe(pipeFds) == 0);
  REQUIRE(sendMessage(pair.a, "dialed 7 ok", {pipeFds[1]}));
  REQUIRE(sendMessage(pair.a, "exited status=0"));
  ::close(pipeFds[1]);

  auto first = receiveMessage(pair.b);
  CHECK(first.text == "dialed 7 ok");
  REQUIRE(first.fds.size() == 1);
  REQUIRE(::write(first.fds[0], "hi", 2) == 2);  // the received descriptor is the pipe's write end
  ::close(first.fds[0]);
  char got[2] = {};
  REQUIRE(::read(pipeFds[0], got, 2) == 2);
  CHECK(std::string(got, 2) == "hi");
  ::close(pipeFds[0]);

  auto second = receiveMessage(pair.b);
  CHECK(second.text == "exited status=0");
  CHECK(second.fds.empty());

  CHECK(receiveMessage(pair.b, /*nonBlocking=*/true).error == EAGAIN);
  ::close(pair.a);
  pair.a = -1;
  CHECK(receiveMessage(pair.b).ended);
}

TEST_CASE("what does not fit a message is refused, not cut", "[netns]") {
  Pair pair;
  CHECK_FALSE(sendMessage(pair.a, std::string(kMaxMessageBytes + 1, 'x')));
  CHECK(errno == EMSGSIZE);
  CHECK_FALSE(sendMessage(pair.a, "too many", std::vector<int>(kMaxMessageFds + 1, 0)));
}

TEST_CASE("words and key=value", "[netns]") {
  const auto items = words("config search=a.svc,svc ndots=5\n");
  CHECK(items == std::vector<std::string>{"config", "search=a.svc,svc", "ndots=5"});
  CHECK(valueOf(items, "search") == "a.svc,svc");
  CHECK(valueOf(items, "ndots") == "5");
  CHECK(valueOf(items, "nd").empty());
  CHECK(valueOf(items, "config").empty());
  CHECK(words("  ").empty());
}
