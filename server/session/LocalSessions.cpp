// LocalSessions.cpp - the state file: tab-separated lines, rewritten whole under an exclusive flock.
#include "server/session/LocalSessions.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tether::session {

namespace {

std::string defaultPath() {
  if (const char* dir = std::getenv("TETHER_STATE_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/sessions";
  }
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/tether/sessions";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/tmp") + "/.local/state/tether/sessions";
}

// Holds an exclusive lock on the file (created if missing) for the life of the object.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      throw std::runtime_error("cannot open the session state file " + path + ": " + std::strerror(errno));
    }
    ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

std::vector<LocalSession> read(const std::string& path) {
  std::vector<LocalSession> sessions;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string field; std::getline(split, field, '\t');) fields.push_back(field);
    if (fields.size() < 7) continue;  // a torn or foreign line: ignored, and dropped on the next write
    LocalSession session{fields[0], std::atoi(fields[1].c_str()), fields[2], fields[3], fields[4], fields[5],
                         fields[6]};
    if (!session.id.empty() && session.pid > 0) sessions.push_back(std::move(session));
  }
  return sessions;
}

void write(const std::string& path, const std::vector<LocalSession>& sessions) {
  const auto temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& s : sessions) {
      out << s.id << '\t' << s.pid << '\t' << s.processStart << '\t' << s.kubeconfig << '\t' << s.context
          << '\t' << s.namespaceName << '\t' << s.service << '\n';
    }
    if (!out) throw std::runtime_error("cannot write the session state file " + temporary);
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace

LocalSessions::LocalSessions() : path_(defaultPath()) {}
LocalSessions::LocalSessions(std::string path) : path_(std::move(path)) {}

std::string LocalSessions::startTimeOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  // Field 22 (starttime) counted after the command name, which may itself contain spaces and parentheses.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int index = 3; index <= 22 && fields >> field; ++index) {
    if (index == 22) return field;
  }
  return {};
}

bool LocalSessions::alive(const LocalSession& session) {
  if (::kill(session.pid, 0) != 0 && errno != EPERM) return false;
  return session.processStart.empty() || startTimeOf(session.pid) == session.processStart;
}

void LocalSessions::add(LocalSession session) {
  if (session.processStart.empty()) session.processStart = startTimeOf(session.pid);
  FileLock lock(path_ + ".lock");
  auto sessions = read(path_);
  std::erase_if(sessions, [&](const LocalSession& s) { return s.id == session.id; });
  sessions.push_back(std::move(session));
  write(path_, sessions);
}

void LocalSessions::remove(const std::string& id) {
  FileLock lock(path_ + ".lock");
  auto sessions = read(path_);
  const auto before = sessions.size();
  std::erase_if(sessions, [&](const LocalSession& s) { return s.id == id; });
  if (sessions.size() != before) write(path_, sessions);
}

std::vector<LocalSession> LocalSessions::list() const {
  return read(path_);
}

std::vector<LocalSession> LocalSessions::stale() const {
  auto sessions = read(path_);
  std::erase_if(sessions, [](const LocalSession& s) { return alive(s); });
  return sessions;
}

bool LocalSessions::heldByLiveProcess(const std::string& id) const {
  for (const auto& session : read(path_)) {
    if (session.id == id) return alive(session);
  }
  return false;
}

}  // namespace tether::session
