// Backend.hpp - the Backend facade: what Tether can do, as a plain C++ API.
//
// Front ends (server/ide for JSON-RPC, server/cli for the terminal) call it; it reports events back
// through `Callbacks`, which the front end implements. It never sees JSON-RPC or JSON: that is the
// adapter's job, so the core can be driven from tests and from the CLI alike.
//
// Threading: cluster calls block on the network and throw core::Error; the IDE adapter runs them on
// the backend's worker pool (`post`), never on the protocol reader thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/core/ClusterQueries.hpp"
#include "server/core/SessionTypes.hpp"

namespace tether::kube {
class Client;
}

namespace tether::core {

struct VersionInfo {
  std::string name;
  std::string version;
  std::string buildType;
};

class Backend {
 public:
  // Events the core reports while it works.
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual void onLog(std::string_view message) = 0;
    // Every state change of every session (starting, active, reconnecting, stopping, stopped, failed).
    virtual void onSessionChanged(const SessionView& /*session*/) {}
  };

  explicit Backend(Callbacks* callbacks = nullptr);
  ~Backend();

  VersionInfo version() const;

  ContextList contexts(const ConnectionOptions& options) const;
  std::vector<kube::NamespaceSummary> namespaces(const ConnectionOptions& options);
  std::vector<ServiceView> services(const ConnectionOptions& options);

  // Sessions (Sessions.cpp). start blocks until the session is active and throws core::Error when it
  // cannot start (the cluster is left as it was); `progress` hears each step. With request.awaitLocal,
  // `prepared` hears the launch environment before traffic moves. A start whose binding (context,
  // namespace, mode, target, ports, strategy) matches a live session joins it instead: one more holder,
  // and only the last stop ends it. `onCancel`, when given, is handed the function that cancels this start
  // (the session stops half-way and undoes what it did; a joined start just lets go).
  using CancelRegistration = std::function<void(std::function<void()>)>;
  SessionView startSession(const SessionRequest& request,
                           const std::function<void(const std::string&)>& progress,
                           const std::function<void(const SessionView&)>& prepared = {},
                           const CancelRegistration& onCancel = {});
  // Lets go of one hold on the session; the last one stops it (restoring what it changed). With
  // `whateverItsHolders` (the user's explicit stop) it stops at once.
  SessionView stopSession(const std::string& id);
  SessionView stopSession(const std::string& id, bool whateverItsHolders);
  std::vector<SessionView> listSessions() const;
  // Every session this machine's backends hold, from the local state file (`tether sessions`).
  std::vector<MachineSession> machineSessions();
  CleanResult clean(const ConnectionOptions& options, const CleanRequest& request);
  // Restores what this machine's dead backends left (the local state file); run at every start.
  CleanResult cleanOwnStaleSessions();

  // Runs `work` on the backend's worker pool.
  void post(std::function<void()> work);

  // Stops everything the backend started and restores what it changed. Idempotent. Called on
  // `shutdown`, on end of input and on SIGTERM, before the process exits.
  void shutdown();
  bool isShutDown() const { return shutDown_; }
  Callbacks* callbacks() const { return callbacks_; }

 private:
  std::shared_ptr<kube::Client> clientFor(const ConnectionOptions& options);
  void stopAllSessions();
  std::function<void()> releaseOnCancel(const std::string& id);
  SessionView joinSession(const std::shared_ptr<session::Session>& session, const SessionRequest& request,
                          const std::function<void(const SessionView&)>& prepared,
                          const CancelRegistration& onCancel);
  void ensureSessions();

  Callbacks* callbacks_;
  std::atomic<bool> shutDown_ = false;
  std::mutex clientsMutex_;
  std::map<std::string, std::shared_ptr<kube::Client>>
      clients_;  // by kubeconfig + context: connections are reused
  struct Workers;
  std::unique_ptr<Workers> workers_;
  struct Sessions;
  std::once_flag sessionsOnce_;
  std::unique_ptr<Sessions> sessions_;
};

}  // namespace tether::core
