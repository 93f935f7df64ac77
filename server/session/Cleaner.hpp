// Cleaner.hpp - `tether clean` and `tether recover`: finds sessions that nobody keeps alive any more (a stale
// heartbeat, by the API server's clock) and undoes them from what they wrote in the cluster: the Service's
// selector and replica counts come back from its annotations, what the session created is deleted by label.
// It needs nothing from the machine that started the session.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "server/kube/Result.hpp"

namespace tether::kube {
class Client;
}

namespace tether::session {

struct CleanOptions {
  std::string namespaceName;  // empty: every namespace
  bool dryRun = false;
  std::chrono::seconds staleAfter{120};  // 0: every session not held by a live process on this machine
  std::string service;  // recover: only the session holding this Service, whatever its heartbeat
  std::string session;  // only this session id, whatever its heartbeat
  // True when a live process on this machine holds the session: never cleaned (except by `session`).
  std::function<bool(const std::string& sessionId)> heldLocally;
};

struct CleanAction {
  std::string kind;    // restore | scale | delete
  std::string object;  // service/NS/NAME, deployment/NS/NAME, pod/NS/NAME, secret/NS/NAME
  std::string session;
  std::string owner;
  std::string heartbeat;
  std::string error;  // empty when done (or when only planned, in a dry run)
};

struct CleanReport {
  std::vector<CleanAction> actions;
  std::vector<std::string> kept;  // sessions found alive: "ID (owner, heartbeat 12s ago) on service/NS/NAME"
};

kube::Result<CleanReport> clean(kube::Client& client, const CleanOptions& options);

}  // namespace tether::session
