// ShadowSession.hpp - the driver every mode runs on: it runs SessionMachine's actions against the cluster
// (kube client), the tunnel (tunnel client + local proxies) and the clock. What differs between modes is
// the machine's plan and the mode's own actions (ExchangeActions.cpp, PreviewActions.cpp, ...).
//
// Two threads per session: the driver thread makes the blocking API calls one action at a time and is the
// only one touching the machine; an I/O thread runs the tunnel, the proxies and the watches. They meet in
// one mutex-guarded inbox (stop asked, tunnel state, selector overwritten, wait results) that the driver
// sleeps on with a deadline: no polling, and a stop wakes it at once.
#pragma once

#include <memory>
#include <string>

#include "server/session/Session.hpp"

namespace tether::session {

class ShadowSession final : public Session {
 public:
  ShadowSession(std::shared_ptr<kube::Client> client, SessionSpec request, SessionTimings timings,
                SessionObserver& observer);
  // Stops the session (restoring the cluster) and joins its threads.
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
