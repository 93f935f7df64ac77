// Sessions.cpp - the Backend's sessions: started, listed, stopped, and stopped all at shutdown; this
// machine's state file kept in step; clean and recover.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "server/core/Backend.hpp"
#include "server/core/SessionsImpl.hpp"
#include "server/kube/Client.hpp"
#include "server/kube/Kubeconfig.hpp"
#include "server/session/ShadowImageChoice.hpp"
#include "support/text/Random.hpp"

extern char** environ;

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

std::map<std::string, std::string> processEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const auto equals = text.find('=');
    if (equals != std::string::npos) env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

session::Strategy strategyOf(const std::string& text) {
  if (text.empty() || text == "selector") return session::Strategy::Selector;
  if (text == "scale") return session::Strategy::Scale;
  throw Error(ErrorCategory::User, "unknown exchange strategy \"" + text + "\"",
              "use selector (the default) or scale");
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
  if (request.mode != "exchange") {
    throw Error(ErrorCategory::User, "mode \"" + request.mode + "\" is not available yet",
                "use mode exchange");
  }
  if (request.service.empty()) {
    throw Error(ErrorCategory::User, "no Service named", "name the Service to exchange (target)");
  }
  session::ExchangeRequest exchange;
  try {
    exchange.expose = session::parseExpose(request.expose);
  } catch (const session::ExposeError& error) {
    throw Error(ErrorCategory::User, error.what(), "write --expose as LOCAL[:REMOTE], e.g. 12001:8080");
  }
  if (exchange.expose.empty()) {
    throw Error(ErrorCategory::User, "nothing to expose",
                "say which local port receives which Service port, e.g. --expose 12001:8080");
  }
  exchange.strategy = strategyOf(request.strategy);
  auto client = clientFor(request.connection);
  exchange.id = support::randomHex(4);
  exchange.namespaceName = request.connection.namespaceName.value_or(client->config().namespaceName);
  exchange.service = request.service;
  exchange.image = session::chooseShadowImage(request.image);
  if (const auto problem = session::shadowImageProblem(exchange.image); !problem.empty()) {
    throw Error(ErrorCategory::Config, problem, "nothing was changed in the cluster");
  }
  exchange.owner = ownerName();
  exchange.contextName = client->config().contextName;
  exchange.localNames = {hostName()};
  // The debuggee's own environment (the launch configuration's env over the IDE's), when the IDE sends it:
  // NO_PROXY and JAVA_TOOL_OPTIONS are extended from what the debuggee would have had.
  exchange.environment = processEnvironment();
  for (const auto& [key, value] : request.baseEnv) exchange.environment[key] = value;
  exchange.awaitLocal = request.awaitLocal;
  exchange.proxyProtocol = request.proxyProtocol;

  {
    // A local port serves one session at a time.
    std::lock_guard lock(sessions_->mutex);
    for (const auto& [id, entry] : sessions_->live) {
      const auto other = entry.session->snapshot();
      for (const auto& wanted : exchange.expose) {
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
    sessions_->progress[exchange.id] = progress;
    if (prepared) sessions_->prepared[exchange.id] = prepared;
  }
  try {
    sessions_->local.add({exchange.id,
                          static_cast<int>(::getpid()),
                          {},
                          request.connection.kubeconfig.value_or(""),
                          exchange.contextName,
                          exchange.namespaceName,
                          exchange.service});
  } catch (const std::runtime_error& error) {
    // Without its record a crash could not be cleaned from this machine: refuse before touching the cluster.
    std::lock_guard lock(sessions_->mutex);
    sessions_->progress.erase(exchange.id);
    sessions_->prepared.erase(exchange.id);
    throw Error(ErrorCategory::Config, error.what(), "nothing was changed in the cluster");
  }

  // Shared: a shutdown may stop (and drop) the session while this call still waits on it.
  auto raw =
      std::make_shared<session::ExchangeSession>(client, exchange, session::SessionTimings{}, *sessions_);
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
    throw Error(ErrorCategory::User,
                snapshot.message.empty() ? "the session stopped while starting" : snapshot.message,
                "Tether left the cluster as it was; fix what the message names and start again");
  }
  return snapshot;
}

SessionView Backend::stopSession(const std::string& id) {
  ensureSessions();
  std::shared_ptr<session::ExchangeSession> session;
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
