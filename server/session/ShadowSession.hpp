// ShadowSession.hpp - the driver every mode runs on: it runs SessionMachine's actions against the cluster
// (kube client), the tunnel (tunnel client + local proxies) and the clock. What differs between modes is
// the machine's plan and the mode's own actions (ExchangeActions.cpp, PreviewActions.cpp, ...).
//
// No thread of its own (SessionRuntime's are shared): the driver runs on the runtime's pool while it has
// work, makes the blocking API calls one action at a time and is the only one touching the machine; once
// active it parks, holding no thread, until a stop, an event or its heartbeat timer resumes it. The tunnel,
// the proxies and the watches run on one of the runtime's single-threaded io_contexts, through an executor
// that counts the session's work. Driver and I/O meet in one mutex-guarded inbox (stop asked, tunnel state,
// selector overwritten, wait results) that the driver's bounded waits sleep on: no polling, and a stop
// wakes it at once.
#pragma once

#include <memory>
#include <string>

#include "server/session/Session.hpp"

namespace tether::session {

class ShadowSession final : public Session {
 public:
  ShadowSession(std::shared_ptr<SessionRuntime> runtime, std::shared_ptr<kube::Client> client,
                SessionSpec request, SessionTimings timings, SessionObserver& observer);
  // Stops the session (restoring the cluster) and waits until none of its handlers can run any more.
  ~ShadowSession() override;
  ShadowSession(const ShadowSession&) = delete;
  ShadowSession& operator=(const ShadowSession&) = delete;

  const std::string& id() const override;
  SessionSnapshot waitStarted() override;
  void requestStop() override;
  SessionSnapshot waitFinished() override;
  SessionSnapshot snapshot() const override;
  std::map<std::string, std::string> launchEnvFor(
      const std::map<std::string, std::string>& baseEnv) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::session
