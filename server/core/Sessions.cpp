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

}  // namespace

void Backend::ensureSessions() {
  std::call_once(sessionsOnce_, [this] { sessions_ = std::make_unique<Sessions>(*this); });
}

SessionView Backend::startSession(const SessionRequest& request,
                                  const std::function<void(const std::string&)>& progress,
                                  const std::function<void(const SessionView&)>& prepared) {
  ensureSessions();
  if (shutDown_) throw Error(ErrorCategory::User, "the backend is shutting down", "start a new backend");
  auto spec = specFor(request);  // every check of the request's shape, before any cluster call
  auto client = clientFor(request.connection);
  spec.id = support::randomHex(4);
  spec.namespaceName = request.connection.namespaceName.value_or(client->config().namespaceName);
  spec.image = session::chooseShadowImage(request.image);
  if (const auto problem = session::shadowImageProblem(spec.image); !problem.empty()) {
    throw Error(ErrorCategory::Config, problem, "nothing was changed in the cluster");
  }
  spec.owner = ownerName();
  spec.contextName = client->config().contextName;
  spec.localNames = {hostName()};
  // The debuggee's environment, as its launcher sends it (the IDE's launch configuration, the CLI's own):
  // NO_PROXY and JAVA_TOOL_OPTIONS extend what the debuggee would have had, never the backend's.
  spec.environment = request.baseEnv;
  spec.awaitLocal = request.awaitLocal;
  spec.proxyProtocol = request.proxyProtocol;

  {
    // A local port serves one session at a time.
    std::lock_guard lock(sessions_->mutex);
    for (const auto& [id, entry] : sessions_->live) {
      const auto other = entry.session->snapshot();
      for (const auto& wanted : spec.expose) {
        for (const auto& used : other.exposed) {
          if (used.local == wanted.local) {
            throw Error(ErrorCategory::User,
                        "local port " + std::to_string(wanted.local) + " already receives " + other.service +
                            " in " + other.namespaceName + " (session " + id + ")",
                        "pick another local port, or stop that session first");
          }
        }
      }
    }
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
                          spec.service});
  } catch (const std::runtime_error& error) {
    // Without its record a crash could not be cleaned from this machine: refuse before touching the cluster.
    std::lock_guard lock(sessions_->mutex);
    sessions_->progress.erase(spec.id);
    sessions_->prepared.erase(spec.id);
    throw Error(ErrorCategory::Config, error.what(), "nothing was changed in the cluster");
  }

  // Shared: a shutdown may stop (and drop) the session while this call still waits on it.
  std::shared_ptr<session::Session> raw =
      session::startSession(client, spec, session::SessionTimings{}, *sessions_);
  const auto id = raw->id();
  {
    std::lock_guard lock(sessions_->mutex);
    sessions_->live[id] = Sessions::Entry{raw, client};
  }
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
    raw.reset();
    sessions_->local.remove(id);
    throw Error(categoryOf(snapshot.blame),
                snapshot.message.empty() ? "the session stopped while starting" : snapshot.message,
                "Tether left the cluster as it was; fix what the message names and start again");
  }
  return snapshot;
}

SessionView Backend::stopSession(const std::string& id) {
  ensureSessions();
  std::shared_ptr<session::Session> session;
  {
    std::lock_guard lock(sessions_->mutex);
    const auto found = sessions_->live.find(id);
    if (found == sessions_->live.end()) {
      throw Error(ErrorCategory::User, "no session \"" + id + "\" in this backend",
                  "tether/session/list shows the sessions it holds");
    }
    session = std::move(found->second.session);
    sessions_->live.erase(found);
  }
  session->requestStop();
  auto snapshot = session->waitFinished();
  session.reset();
  sessions_->local.remove(id);
  return snapshot;
}

std::vector<SessionView> Backend::listSessions() const {
  std::vector<SessionView> views;
  if (!sessions_) return views;
  std::lock_guard lock(sessions_->mutex);
  for (const auto& [id, entry] : sessions_->live) views.push_back(entry.session->snapshot());
  return views;
}

void Backend::stopAllSessions() {
  if (!sessions_) return;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(sessions_->mutex);
    for (const auto& [id, entry] : sessions_->live) {
      entry.session->requestStop();  // all at once: they undo in parallel
      ids.push_back(id);
    }
  }
  for (const auto& id : ids) {
    try {
      stopSession(id);
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
