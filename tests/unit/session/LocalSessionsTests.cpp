// LocalSessionsTests.cpp - the state file that tells a live session from one whose backend died.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "server/session/LocalSessions.hpp"

using namespace tether::session;

namespace {

std::string freshPath() {
  const auto dir = std::filesystem::temp_directory_path() / ("tether-local-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return (dir / "nested" / "sessions").string();
}

// A pid that certainly belonged to a process that is gone: a child that exited and was reaped.
int deadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

}  // namespace

TEST_CASE("sessions of live and dead processes are told apart", "[session][local]") {
  LocalSessions sessions(freshPath());
  sessions.add({"live1", ::getpid(), {}, "/k", "ctx", "ns", "orders"});
  sessions.add({"dead1", deadPid(), {}, "", "ctx", "ns", "inventory"});
  const auto all = sessions.list();
  REQUIRE(all.size() == 2);
  CHECK(all[0].kubeconfig == "/k");
  CHECK_FALSE(all[0].processStart.empty());  // recorded so a reused pid is not mistaken for us
  CHECK(sessions.heldByLiveProcess("live1"));
  CHECK_FALSE(sessions.heldByLiveProcess("dead1"));
  CHECK_FALSE(sessions.heldByLiveProcess("unknown"));
  const auto stale = sessions.stale();
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].id == "dead1");
  CHECK(stale[0].service == "inventory");
  sessions.remove("dead1");
  CHECK(sessions.list().size() == 1);
}

TEST_CASE("a live pid with another start time is another process", "[session][local]") {
  LocalSessions sessions(freshPath());
  sessions.add({"reused", ::getpid(), "1", "", "", "ns", "svc"});
  CHECK_FALSE(sessions.heldByLiveProcess("reused"));
}

TEST_CASE("torn lines in the state file are ignored, not fatal", "[session][local]") {
  const auto path = freshPath();
  LocalSessions sessions(path);
  sessions.add({"good", ::getpid(), {}, "", "", "ns", "svc"});
  {
    std::ofstream out(path, std::ios::app);
    out << "garbage without tabs\n\t\t\n";
  }
  const auto all = sessions.list();
  REQUIRE(all.size() == 1);
  CHECK(all[0].id == "good");
}
