// Sessions.cpp - the Backend's sessions: started, listed, stopped, and stopped all at shutdown; this
// machine's state file kept in step; clean and recover.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "server/core/Backend.hpp"
#include "server/core/ModeFactory.hpp"
#include "server/core/SessionsImpl.hpp"
#include "server/kube/Client.hpp"
#include "server/kube/Kubeconfig.hpp"
#include "server/session/ShadowImageChoice.hpp"
#include "support/text/Random.hpp"

namespace tether::core {

namespace {

std::string hostName() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

std::string ownerName() {
  const char* user = std::getenv("USER");
  return std::string(user != nullptr && *user != '\0' ? user : "user") + "@" + hostName();
}

ErrorCategory categoryOf(session::Blame blame) {
  switch (blame) {
    case session::Blame::User:
      return ErrorCategory::User;
    case session::Blame::Cluster:
      return ErrorCategory::Cluster;
    case session::Blame::Internal:
      return ErrorCategory::Internal;
  }
  return ErrorCategory::Internal;
}

// A start that did not become active, as the error its caller gets. The command line is told to fix what
// the message names; an IDE gets the reason and the field to point at, and names the fix itself. Either is
// told the cluster is as it was only when the undo left nothing behind; else the message says what is left.
Error startFailure(const session::SessionSnapshot& snapshot, Caller caller) {
  ErrorDetail detail;
  detail.reason = session::toString(snapshot.reason);
  if (const char* field = session::fieldOf(snapshot.reason)) detail.field = field;
  std::string hint;
  if (snapshot.undone) {
    hint = caller == Caller::Ide
               ? "Nothing in the cluster was changed"
               : "Tether left the cluster as it was; fix what the message names and start again";
  } else if (caller == Caller::Cli) {
    hint = "the message says what is left in the cluster and how to put it back";
  }
  return Error(categoryOf(snapshot.blame),
               snapshot.message.empty() ? "the session stopped while starting" : snapshot.message,
               std::move(hint), std::move(detail));
}

// Two starts with the same binding are one session: a compound launch's debug sessions share it. The
// kubeconfig is part of it: two files may name different clusters with the same context name.
std::string bindingOf(const session::SessionSpec& spec, const std::string& kubeconfig) {
  std::vector<std::string> ports;
  for (const auto& port : spec.expose) ports.push_back(std::to_string(port.local) + ":" + port.remote);
  std::sort(ports.begin(), ports.end());
  std::string binding = kubeconfig + "\n" + spec.contextName + "\n" + spec.namespaceName + "\n" +
                        session::toString(spec.mode) + "\n" + spec.service + "\n" +
                        session::toString(spec.strategy) + "\n" + spec.serviceType + "\n" + spec.image +
                        "\n" + (spec.proxyProtocol ? "p" : "-");
  for (const auto& port : ports) binding += "\n" + port;
  for (const auto& matcher : spec.matchers) binding += "\nmatch " + matcher.describe();
  return binding;
}

}  // namespace

void Backend::ensureSessions() {
  std::call_once(sessionsOnce_, [this] { sessions_ = std::make_unique<Sessions>(*this); });
}

SessionView Backend::startSession(const SessionRequest& request,
                                  const std::function<void(const std::string&)>& progress,
                                  const std::function<void(const SessionView&)>& prepared,
                                  const CancelRegistration& onCancel) {
  ensureSessions();
  if (shutDown_) throw Error(ErrorCategory::User, "the backend is shutting down", "start a new backend");
  auto spec = specFor(request);  // every check of the request's shape, before any cluster call
  auto client = clientFor(request.connection);
  spec.id = support::randomHex(4);
  spec.namespaceName = request.connection.namespaceName.value_or(client->config().namespaceName);
  spec.image = session::chooseShadowImage(request.image);
  if (const auto problem = session::shadowImageProblem(spec.image, spec.audience); !problem.empty()) {
    throw Error(ErrorCategory::Config, problem, "nothing was changed in the cluster",
                request.image.empty() ? ErrorDetail{} : ErrorDetail{"invalid-field", "image"});
  }
  spec.owner = ownerName();
  spec.contextName = client->config().contextName;
  spec.localNames = {hostName()};
  // The debuggee's environment, as its launcher sends it (the IDE's launch configuration, the CLI's own):
  // NO_PROXY and JDK_JAVA_OPTIONS extend what the debuggee would have had, never the backend's.
  spec.environment = request.baseEnv;
  spec.awaitLocal = request.awaitLocal;
  spec.proxyProtocol = request.proxyProtocol;
  const auto binding = bindingOf(spec, request.connection.kubeconfig.value_or(""));
  // Sessions that ended by themselves (a lost lock, an evicted shadow) give their binding and ports back;
  // they are dropped outside the lock (dropping one joins its threads).
  std::vector<std::pair<std::string, std::shared_ptr<session::Session>>> ended;
  struct DropEnded {
    std::vector<std::pair<std::string, std::shared_ptr<session::Session>>>& ended;
    session::LocalSessions& local;
    ~DropEnded() {
      for (auto& [id, session] : ended) {
        session.reset();
        local.remove(id);
      }
    }
  } dropEnded{ended, sessions_->local};

  {
    // The binding and the local ports are claimed under one lock, so two starts at once with the same
    // binding become one session, and two with the same local port cannot both pass.
    std::unique_lock lock(sessions_->mutex);
    std::erase_if(sessions_->live, [&](auto& item) {
      if (!item.second.session) return false;
      const auto state = item.second.session->snapshot().state;
      if (state != session::SessionState::Failed && state != session::SessionState::Stopped) return false;
      if (!sessions_->progress.contains(item.first)) {  // not its own start's to remove
        ended.emplace_back(item.first, std::move(item.second.session));
        return true;
      }
      return false;
    });
    std::shared_ptr<session::Session> joined;
    for (;;) {
      const auto same = std::find_if(sessions_->live.begin(), sessions_->live.end(),
                                     [&](const auto& item) { return item.second.binding == binding; });
      if (same == sessions_->live.end()) break;
      if (same->second.session) {
        ++same->second.holders;
        joined = same->second.session;
        break;
      }
      sessions_->changed.wait(lock);  // a start with this binding is being set up: join it once it exists
    }
    if (joined) {
      lock.unlock();
      return joinSession(joined, request, prepared, onCancel);
    }
    for (const auto& [id, entry] : sessions_->live) {
      for (const auto& wanted : spec.expose) {
        if (std::find(entry.locals.begin(), entry.locals.end(), wanted.local) != entry.locals.end()) {
          throw Error(ErrorCategory::User,
                      "local port " + std::to_string(wanted.local) + " is already used by " +
                          (entry.service.empty() ? std::string("a session") : entry.service) + " in " +
                          entry.namespaceName + " (session " + id + ")",
                      "pick another local port, or stop that session first");
        }
      }
    }
    // A Service held by one of these is not a dead session's: the start says to stop it, not to clean up.
    for (const auto& [id, entry] : sessions_->live) {
      const auto state = entry.session ? entry.session->snapshot().state : session::SessionState::Starting;
      if (state != session::SessionState::Failed && state != session::SessionState::Stopped)
        spec.runningHere.push_back(id);
    }
    Sessions::Entry reserved{nullptr, client, binding, 1, {}, spec.service, spec.namespaceName};
    for (const auto& port : spec.expose) reserved.locals.push_back(port.local);
    sessions_->live[spec.id] = std::move(reserved);
    sessions_->progress[spec.id] = progress;
    if (prepared) sessions_->prepared[spec.id] = prepared;
  }
  try {
    sessions_->local.add({spec.id,
                          static_cast<int>(::getpid()),
                          {},
                          request.connection.kubeconfig.value_or(""),
                          spec.contextName,
                          spec.namespaceName,
                          spec.service,
                          session::toString(spec.mode),
                          static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count())});
  } catch (const std::runtime_error& error) {
    // Without its record a crash could not be cleaned from this machine: refuse before touching the cluster.
    std::lock_guard lock(sessions_->mutex);
    sessions_->progress.erase(spec.id);
    sessions_->prepared.erase(spec.id);
    sessions_->live.erase(spec.id);
    sessions_->changed.notify_all();
    throw Error(ErrorCategory::Config, error.what(), "nothing was changed in the cluster");
  }

  // Shared: a shutdown may stop (and drop) the session while this call still waits on it.
  std::shared_ptr<session::Session> raw;
  try {
    raw = session::startSession(sessions_->runtime, client, spec, session::SessionTimings{}, *sessions_);
  } catch (const std::exception& error) {
    {
      std::lock_guard lock(sessions_->mutex);
      sessions_->progress.erase(spec.id);
      sessions_->prepared.erase(spec.id);
      sessions_->live.erase(spec.id);
    }
    sessions_->changed.notify_all();
    sessions_->local.remove(spec.id);
    throw Error(ErrorCategory::Internal, std::string("could not start the session: ") + error.what(),
                "nothing was changed in the cluster; see the backend log");
  }
  const auto id = raw->id();
  {
    std::lock_guard lock(sessions_->mutex);
    sessions_->live[id].session = raw;
  }
  sessions_->changed.notify_all();
  if (onCancel) onCancel(releaseOnCancel(id));
  if (shutDown_) raw->requestStop();  // a shutdown that came while this start was being set up
  auto snapshot = raw->waitStarted();
  {
    std::lock_guard lock(sessions_->mutex);
    sessions_->progress.erase(id);
    sessions_->prepared.erase(id);
  }
  if (snapshot.state != session::SessionState::Active) {
    snapshot = raw->waitFinished();
    {
      std::lock_guard lock(sessions_->mutex);
      sessions_->live.erase(id);
    }
    sessions_->changed.notify_all();
    raw.reset();
    sessions_->local.remove(id);
    throw startFailure(snapshot, request.caller);
  }
  return snapshot;
}

SessionView Backend::joinSession(const std::shared_ptr<session::Session>& session,
                                 const SessionRequest& request,
                                 const std::function<void(const SessionView&)>& prepared,
                                 const CancelRegistration& onCancel) {
  const auto id = session->id();
  if (onCancel) onCancel(releaseOnCancel(id));
  auto snapshot = session->snapshot();
  snapshot.launchEnv = session->launchEnvFor(request.baseEnv);
  if (request.awaitLocal && prepared &&
      (snapshot.state == session::SessionState::Prepared ||
       snapshot.state == session::SessionState::Active)) {
    prepared(snapshot);
  }
  snapshot = session->waitStarted();
  snapshot.launchEnv = session->launchEnvFor(request.baseEnv);  // this holder's debuggee, not the first's
  if (snapshot.state != session::SessionState::Active) {
    // The start it joined failed or was stopped; that start reports and removes it.
    throw startFailure(snapshot, request.caller);
  }
  return snapshot;
}

SessionView Backend::stopSession(const std::string& id) {
  return stopSession(id, false);
}

// A cancelled start lets go of its hold, as a stop would: the session stops (undoing what it did, even
// half-way through its start) only when no other start holds it. On the pool: stopping blocks.
std::function<void()> Backend::releaseOnCancel(const std::string& id) {
  return [this, id] {
    post([this, id] {
      try {
        stopSession(id);
      } catch (const Error&) {
        // Gone meanwhile.
      }
    });
  };
}

SessionView Backend::stopSession(const std::string& id, bool whateverItsHolders) {
  ensureSessions();
  std::shared_ptr<session::Session> session;
  {
    std::lock_guard lock(sessions_->mutex);
    const auto found = sessions_->live.find(id);
    if (found == sessions_->live.end() || !found->second.session) {
      throw Error(ErrorCategory::User, "no session \"" + id + "\" in this backend",
                  "it may have ended already; the session list shows the ones it holds");
    }
    if (!whateverItsHolders && --found->second.holders > 0) return found->second.session->snapshot();
    session = std::move(found->second.session);
    sessions_->live.erase(found);
  }
  session->requestStop();
  auto snapshot = session->waitFinished();
  session.reset();
  sessions_->local.remove(id);
  return snapshot;
}

std::vector<MachineSession> Backend::machineSessions() {
  ensureSessions();
  std::vector<MachineSession> sessions;
  for (auto& record : sessions_->local.list()) {
    const bool alive = session::LocalSessions::alive(record);
    sessions.push_back({std::move(record), alive});
  }
  return sessions;
}

std::vector<SessionView> Backend::listSessions() const {
  std::vector<SessionView> views;
  if (!sessions_) return views;
  std::lock_guard lock(sessions_->mutex);
  for (const auto& [id, entry] : sessions_->live) {
    if (!entry.session) continue;
    // One that has ended (its start is removing it) is no longer held, as its last sessionChanged said.
    auto view = entry.session->snapshot();
    if (view.state != session::SessionState::Stopped && view.state != session::SessionState::Failed)
      views.push_back(std::move(view));
  }
  return views;
}

void Backend::stopAllSessions() {
  if (!sessions_) return;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(sessions_->mutex);
    for (const auto& [id, entry] : sessions_->live) {
      if (!entry.session) continue;  // still being set up: its start sees the shutdown
      entry.session->requestStop();  // all at once: they undo in parallel
      ids.push_back(id);
    }
  }
  for (const auto& id : ids) {
    try {
      stopSession(id, /*whateverItsHolders=*/true);
    } catch (const Error&) {
      // Stopped meanwhile by its own request.
    }
  }
}

CleanResult Backend::clean(const ConnectionOptions& options, const CleanRequest& request) {
  ensureSessions();
  auto client = clientFor(options);
  session::CleanOptions cleanOptions;
  cleanOptions.namespaceName =
      request.allNamespaces ? std::string() : options.namespaceName.value_or(client->config().namespaceName);
  cleanOptions.dryRun = request.dryRun;
  cleanOptions.staleAfter = request.staleAfter;
  cleanOptions.service = request.service;
  cleanOptions.heldLocally = [this](const std::string& id) { return sessions_->local.heldByLiveProcess(id); };
  auto report = session::clean(*client, cleanOptions);
  if (!report) {
    const auto& error = report.error();
    throw Error(error.reason == kube::ApiReason::Forbidden ? ErrorCategory::User : ErrorCategory::Cluster,
                "cleaning up: " + error.describe(),
                "check the permissions and the connection to the cluster");
  }
  if (!request.service.empty() && report.value().actions.empty()) {
    throw Error(ErrorCategory::User,
                "Service \"" + request.service + "\" in namespace \"" + cleanOptions.namespaceName +
                    "\" is not held by any session: nothing to recover",
                "check the name and the namespace");
  }
  return std::move(report).value();
}

CleanResult Backend::cleanOwnStaleSessions() {
  ensureSessions();
  CleanResult all;
  for (const auto& stale : sessions_->local.stale()) {
    try {
      ConnectionOptions options;
      if (!stale.kubeconfig.empty()) options.kubeconfig = stale.kubeconfig;
      if (!stale.context.empty()) options.context = stale.context;
      options.namespaceName = stale.namespaceName;
      auto client = clientFor(options);
      session::CleanOptions cleanOptions;
      cleanOptions.namespaceName = stale.namespaceName;
      cleanOptions.session = stale.id;
      auto report = session::clean(*client, cleanOptions);
      if (!report) {
        spdlog::warn("could not clean stale session {} ({}/{}): {}", stale.id, stale.namespaceName,
                     stale.service, report.error().describe());
        continue;  // kept in the file: the next start tries again
      }
      for (auto& action : report.value().actions) all.actions.push_back(std::move(action));
      sessions_->local.remove(stale.id);
    } catch (const std::exception& error) {
      spdlog::warn("could not clean stale session {}: {}", stale.id, error.what());
    }
  }
  return all;
}

}  // namespace tether::core
