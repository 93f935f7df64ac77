// LocalSessionsTests.cpp - the state file that tells a live session from one whose backend died.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

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

TEST_CASE("each record keeps its mode and start; a line from before modes reads as an exchange",
          "[session][local]") {
  const auto path = freshPath();
  LocalSessions sessions(path);
  sessions.add({"conn1", ::getpid(), {}, "", "ctx", "ns", "", "connect", 1700000000});
  {
    std::ofstream out(path, std::ios::app);
    out << "old1\t" << ::getpid() << "\t\t\tctx\tns\torders\n";
  }
  const auto all = sessions.list();
  REQUIRE(all.size() == 2);
  CHECK(all[0].mode == "connect");
  CHECK(all[0].startedAt == 1700000000);
  CHECK(all[1].id == "old1");
  CHECK(all[1].mode == "exchange");
  CHECK(all[1].startedAt == 0);
}

namespace {

// Sets (or unsets, with nullptr) an environment variable for one scope.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~EnvVar() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::filesystem::perms permsOf(const std::filesystem::path& path) {
  return std::filesystem::status(path).permissions() & std::filesystem::perms::mask;
}

}  // namespace

TEST_CASE("without HOME or XDG_STATE_HOME there is no state file, not a shared one in /tmp",
          "[session][local]") {
  EnvVar home("HOME", nullptr), xdg("XDG_STATE_HOME", nullptr), dir("TETHER_STATE_DIR", nullptr);
  LocalSessions sessions;
  CHECK(sessions.path().empty());
  CHECK_THROWS_WITH(sessions.add({"s1", ::getpid(), {}, "", "", "ns", "svc"}),
                    Catch::Contains("neither TETHER_STATE_DIR, XDG_STATE_HOME nor HOME is set"));
  CHECK(sessions.list().empty());
}

TEST_CASE("the state directory is 0700 and the file 0600, written afresh", "[session][local]") {
  const auto path = std::filesystem::path(freshPath());
  LocalSessions sessions(path.string());
  sessions.add({"s1", ::getpid(), {}, "", "", "ns", "svc"});
  CHECK(permsOf(path.parent_path()) == std::filesystem::perms::owner_all);
  CHECK(permsOf(path) == (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  // A directory made too open is closed again; the temporary files are gone.
  std::filesystem::permissions(path.parent_path(), std::filesystem::perms::all);
  sessions.add({"s2", ::getpid(), {}, "", "", "ns", "svc"});
  CHECK(permsOf(path.parent_path()) == std::filesystem::perms::owner_all);
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 2u);  // sessions and sessions.lock
}

TEST_CASE("a planted symbolic link is refused and its target left alone", "[session][local]") {
  const auto path = std::filesystem::path(freshPath());
  std::filesystem::create_directories(path.parent_path());
  std::filesystem::permissions(path.parent_path(), std::filesystem::perms::owner_all);
  const auto target = path.parent_path() / "elsewhere";
  {
    std::ofstream out(target);
    out << "victim\t1\t\t/attacker/kubeconfig\tctx\tns\tsvc\n";
  }
  std::filesystem::create_symlink(target, path);
  LocalSessions sessions(path.string());
  CHECK_THROWS_WITH(sessions.add({"s1", ::getpid(), {}, "", "", "ns", "svc"}),
                    Catch::Contains("symbolic link"));
  CHECK(sessions.list().empty());  // what the link points at is never read
  std::ifstream in(target);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "victim\t1\t\t/attacker/kubeconfig\tctx\tns\tsvc\n");
}

TEST_CASE("a state file or directory owned by someone else is refused", "[session][local]") {
  if (::geteuid() != 0) return;  // only root can give a file away; CI runs as root
  const auto path = std::filesystem::path(freshPath());
  LocalSessions sessions(path.string());
  sessions.add({"mine", ::getpid(), {}, "", "", "ns", "svc"});
  REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
  CHECK_THROWS_WITH(sessions.add({"s2", ::getpid(), {}, "", "", "ns", "svc"}),
                    Catch::Contains("belongs to uid 65534"));
  CHECK(sessions.stale().empty());
  REQUIRE(::chown(path.c_str(), 0, 0) == 0);
  REQUIRE(::chown(path.parent_path().c_str(), 65534, 65534) == 0);
  CHECK_THROWS_WITH(sessions.add({"s3", ::getpid(), {}, "", "", "ns", "svc"}),
                    Catch::Contains("state directory") && Catch::Contains("belongs to uid 65534"));
}
