// LocalSessions.cpp - the state file: tab-separated lines, rewritten whole under an exclusive flock, in a
// directory only this user can write.
//
// The file names kubeconfigs that `tether clean` uses on the next start, so a file someone else planted
// could make this user run an exec plugin of the planter's choosing. Hence: no shared fallback directory
// (/tmp), the directory 0700 and ours, the file 0600 and ours, never followed through a symbolic link, and
// written through a fresh mkstemp file renamed over it.
#include "server/session/LocalSessions.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace tether::session {

namespace {

std::string errnoText() {
  return std::strerror(errno);
}

// The state file's path, or an error naming what to set.
std::string defaultPath(std::string& error) {
  if (const char* dir = std::getenv("TETHER_STATE_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/sessions";
  }
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/tether/sessions";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.local/state/tether/sessions";
  }
  error =
      "neither TETHER_STATE_DIR, XDG_STATE_HOME nor HOME is set, so there is no private place for the "
      "session state file; set HOME (or XDG_STATE_HOME) to a directory only you can write";
  return {};
}

// `what` (a file or directory Tether keeps its state in) must be ours and not a symbolic link.
void requireOwn(const std::string& what, const struct stat& st) {
  if (st.st_uid != ::geteuid()) {
    throw std::runtime_error(what + " belongs to uid " + std::to_string(st.st_uid) + ", not to you (uid " +
                             std::to_string(::geteuid()) + "); refusing to use it. Remove it, or set " +
                             "TETHER_STATE_DIR to a directory of your own");
  }
}

// Creates the state directory (0700) and checks that it is ours and private.
void ensurePrivateDir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!dir.parent_path().empty()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create the session state directory " + dir.string() + ": " +
                             errnoText());
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    throw std::runtime_error("cannot read the session state directory " + dir.string() + ": " + errnoText());
  }
  if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
    throw std::runtime_error("the session state directory " + dir.string() +
                             " is a symbolic link or not a directory; refusing to use it. Remove it, or set "
                             "TETHER_STATE_DIR to a directory of your own");
  }
  requireOwn("the session state directory " + dir.string(), st);
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    throw std::runtime_error("cannot make " + dir.string() + " private (0700): " + errnoText());
  }
}

// Opens a file of the state directory without following a link, and checks it is ours and regular.
// Returns -1 when it does not exist and `create` is false.
int openOwn(const std::string& path, int flags, bool create) {
  const int fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0) {
    if (errno == ENOENT && !create) return -1;
    if (errno == ELOOP) {
      throw std::runtime_error("the session state file " + path +
                               " is a symbolic link; refusing to follow it. Remove it");
    }
    throw std::runtime_error("cannot open the session state file " + path + ": " + errnoText());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("the session state file " + path + " is not a regular file; refusing to use it");
  }
  try {
    requireOwn("the session state file " + path, st);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return fd;
}

// Holds an exclusive lock on the lock file (created if missing) for the life of the object.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(openOwn(path, O_RDWR, true)) { ::flock(fd_, LOCK_EX); }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

std::vector<LocalSession> parse(const std::string& text) {
  std::vector<LocalSession> sessions;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string field; std::getline(split, field, '\t');) fields.push_back(field);
    if (fields.size() < 7) continue;  // a torn or foreign line: ignored, and dropped on the next write
    LocalSession session{fields[0], std::atoi(fields[1].c_str()), fields[2], fields[3], fields[4], fields[5],
                         fields[6]};
    if (fields.size() >= 9) {
      session.mode = fields[7];
      session.startedAt = std::atol(fields[8].c_str());
    }
    if (!session.id.empty() && session.pid > 0) sessions.push_back(std::move(session));
  }
  return sessions;
}

std::vector<LocalSession> read(const std::string& path) {
  const int fd = openOwn(path, O_RDONLY, false);
  if (fd < 0) return {};
  std::string text;
  char buffer[8192];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
    text.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return parse(text);
}

void write(const std::string& path, const std::vector<LocalSession>& sessions) {
  std::string text;
  for (const auto& s : sessions) {
    text += s.id + '\t' + std::to_string(s.pid) + '\t' + s.processStart + '\t' + s.kubeconfig + '\t' +
            s.context + '\t' + s.namespaceName + '\t' + s.service + '\t' + s.mode + '\t' +
            std::to_string(s.startedAt) + '\n';
  }
  // A fresh file (mkstemp: O_EXCL, 0600) renamed over the old one: nobody can have prepared it, and
  // rename replaces a symbolic link itself rather than writing through it.
  std::string temporary = path + ".XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) throw std::runtime_error("cannot write the session state file " + path + ": " + errnoText());
  bool ok = ::fchmod(fd, 0600) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const auto why = errnoText();
    ::unlink(temporary.c_str());
    throw std::runtime_error("cannot write the session state file " + path + ": " + why);
  }
}

}  // namespace

LocalSessions::LocalSessions() {
  path_ = defaultPath(error_);
}
LocalSessions::LocalSessions(std::string path) : path_(std::move(path)) {}

void LocalSessions::ensureUsable() const {
  if (!error_.empty()) throw std::runtime_error(error_);
  ensurePrivateDir(std::filesystem::path(path_).parent_path());
}

std::vector<LocalSession> LocalSessions::readSafely() const {
  try {
    ensureUsable();
    return read(path_);
  } catch (const std::exception& error) {
    // Nothing read from a file that is not safely ours: it could name a kubeconfig of someone else's
    // choosing.
    spdlog::warn("event=session_state_ignored reason=\"{}\"", error.what());
    return {};
  }
}

std::string LocalSessions::startTimeOf(int pid) {
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buffer[1024];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return {};
  const std::string stat(buffer, static_cast<std::size_t>(n));
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
  ensureUsable();
  FileLock lock(path_ + ".lock");
  auto sessions = read(path_);
  std::erase_if(sessions, [&](const LocalSession& s) { return s.id == session.id; });
  sessions.push_back(std::move(session));
  write(path_, sessions);
}

void LocalSessions::remove(const std::string& id) {
  try {
    ensureUsable();
    FileLock lock(path_ + ".lock");
    auto sessions = read(path_);
    const auto before = sessions.size();
    std::erase_if(sessions, [&](const LocalSession& s) { return s.id == id; });
    if (sessions.size() != before) write(path_, sessions);
  } catch (const std::exception& error) {
    spdlog::warn("event=session_state_not_updated session={} reason=\"{}\"", id, error.what());
  }
}

std::vector<LocalSession> LocalSessions::list() const {
  return readSafely();
}

std::vector<LocalSession> LocalSessions::stale() const {
  auto sessions = readSafely();
  std::erase_if(sessions, [](const LocalSession& s) { return alive(s); });
  return sessions;
}

bool LocalSessions::heldByLiveProcess(const std::string& id) const {
  for (const auto& session : readSafely()) {
    if (session.id == id) return alive(session);
  }
  return false;
}

}  // namespace tether::session
