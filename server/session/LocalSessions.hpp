// LocalSessions.hpp - this machine's record of the sessions its backends hold: one line per session in a
// state file, so the next backend start (or `tether clean`) can tell a session held by a live process on
// this machine from one whose backend died (kill -9, a crashed laptop).
//
// The file is `$TETHER_STATE_DIR/sessions`, else `$XDG_STATE_HOME/tether/sessions`, else
// `$HOME/.local/state/tether/sessions`; with none of them set there is no state file (never a shared place
// like /tmp), and add() says what to set. Writers take an flock, so backends running side by side do not
// lose lines. The directory is kept 0700, the file 0600, both must belong to this user, and neither is ever
// followed through a symbolic link: what reading finds in a file that is not safely ours is ignored (with a
// warning), since the file names kubeconfigs the next `tether clean` uses.
#pragma once

#include <string>
#include <vector>

namespace tether::session {

struct LocalSession {
  std::string id;
  int pid = 0;
  std::string processStart;  // /proc/<pid>/stat start time: a reused pid is not the same process
  std::string kubeconfig;    // as the backend was given it (may be empty: KUBECONFIG / ~/.kube/config)
  std::string context;
  std::string namespaceName;
  std::string service;
  std::string mode = "exchange";  // older lines have none: they were exchanges
  long startedAt = 0;             // seconds since the epoch, this machine's clock (for `tether sessions`)
};

class LocalSessions {
 public:
  LocalSessions();  // the default path
  explicit LocalSessions(std::string path);

  const std::string& path() const { return path_; }
  // Adds a session held by this process. Throws std::runtime_error naming the file (or the variable to set)
  // when it cannot write it safely.
  void add(LocalSession session);
  void remove(const std::string& id);
  std::vector<LocalSession> list() const;
  // Sessions whose process is gone (or is another process with the same pid).
  std::vector<LocalSession> stale() const;
  // True when `id` is recorded here and its process is alive.
  bool heldByLiveProcess(const std::string& id) const;

  static bool alive(const LocalSession& session);
  static std::string startTimeOf(int pid);

 private:
  void ensureUsable() const;
  std::vector<LocalSession> readSafely() const;

  std::string path_;
  std::string error_;  // why there is no usable default path
};

}  // namespace tether::session
