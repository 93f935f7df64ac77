// SessionsImpl.hpp - internal to server/core: the sessions a Backend holds (Sessions.cpp), complete here so
// Backend.cpp can construct and destroy them.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include "server/core/Backend.hpp"
#include "server/session/LocalSessions.hpp"
#include "server/session/Session.hpp"
#include "server/session/SessionRuntime.hpp"

namespace tether::core {

struct Backend::Sessions final : session::SessionObserver {
  explicit Sessions(Backend& owner) : backend(owner) {}

  // Called under the lock: once startSession has removed the entry (its caller's progress object may be
  // gone), no report can still be on its way to it.
  void onProgress(const session::SessionSnapshot& snapshot, const std::string& step) override {
    std::lock_guard lock(mutex);
    if (const auto found = progress.find(snapshot.id); found != progress.end() && found->second)
      found->second(step);
  }

  void onPrepared(const session::SessionSnapshot& snapshot) override {
    std::function<void(const SessionView&)> report;
    {
      std::lock_guard lock(mutex);
      if (const auto found = prepared.find(snapshot.id); found != prepared.end()) report = found->second;
    }
    if (report) report(snapshot);
  }

  void onStateChanged(const session::SessionSnapshot& snapshot) override {
    if (backend.callbacks() != nullptr) backend.callbacks()->onSessionChanged(snapshot);
  }

  struct Entry {
    std::shared_ptr<session::Session> session;
    std::shared_ptr<kube::Client> client;
    // What makes two starts one session (context, namespace, mode, target, ports ...), and how many starts
    // hold it: the last stop ends it.
    std::string binding;
    int holders = 1;
    std::vector<int> locals;  // the local ports it uses (one session per port)
    std::string service;
    std::string namespaceName;
  };

  Backend& backend;
  // The threads every session shares; each session holds it too, so it ends after the last of them.
  std::shared_ptr<session::SessionRuntime> runtime = std::make_shared<session::SessionRuntime>();
  mutable std::mutex mutex;
  // A session's entry exists (with a null session) from its reservation until it is constructed; starts
  // with the same binding wait on this for it.
  std::condition_variable changed;
  std::map<std::string, Entry> live;
  std::map<std::string, std::function<void(const std::string&)>> progress;
  std::map<std::string, std::function<void(const SessionView&)>> prepared;
  session::LocalSessions local;
};

}  // namespace tether::core
