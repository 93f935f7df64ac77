// Backend.cpp - the facade: version, cluster queries, the worker pool and shutdown.
#include "server/core/Backend.hpp"

#include "server/core/BuildInfo.hpp"
#include "server/core/SessionsImpl.hpp"
#include "server/kube/Client.hpp"
#include "server/kube/Kubeconfig.hpp"
#include "server/session/Labels.hpp"
#include "server/session/MeshCleaner.hpp"
#include "support/exec/ThreadPool.hpp"

namespace tether::core {

struct Backend::Workers {
  // Session starts and stops block a worker for as long as they take (the session's own work runs on the
  // session runtime; the worker waits for it), so fifty starts at once need fifty workers, and the picker's
  // queries must not wait behind them: a pool that grows to a bound and lets idle threads go.
  support::ThreadPool pool{support::ThreadPoolConfig{64, std::chrono::seconds(10)}};
};

Backend::Backend(Callbacks* callbacks) : callbacks_(callbacks), workers_(std::make_unique<Workers>()) {}

Backend::~Backend() {
  shutdown();
  workers_->pool.join();  // runs what is queued (and what that posts), then joins
}

VersionInfo Backend::version() const {
  return VersionInfo{kProductName, kVersion, kBuildType};
}

void Backend::post(std::function<void()> work) {
  workers_->pool.submit(std::move(work));
}

void Backend::shutdown() {
  if (shutDown_) return;
  shutDown_ = true;
  stopAllSessions();
  if (callbacks_ != nullptr) callbacks_->onLog("backend shut down");
}

namespace {

kube::ConfigOverrides overridesOf(const ConnectionOptions& options) {
  return kube::ConfigOverrides{options.kubeconfig, options.context, options.namespaceName};
}

kube::ResolvedConfig resolve(const ConnectionOptions& options) {
  try {
    const auto config = kube::loadKubeconfig(overridesOf(options), kube::ConfigEnvironment::fromProcess());
    return kube::resolveContext(config, overridesOf(options));
  } catch (const kube::ConfigError& error) {
    throw Error(ErrorCategory::Config, error.what(), "fix the kubeconfig, or pick another context");
  }
}

[[noreturn]] void raise(const kube::ApiError& error, const std::string& what) {
  switch (error.reason) {
    case kube::ApiReason::Forbidden:
      throw Error(ErrorCategory::User, what + ": " + error.message,
                  "ask a cluster admin for this permission, or use another context",
                  ErrorDetail{"forbidden", {}});
    case kube::ApiReason::Unauthorized:
      throw Error(ErrorCategory::Config, what + ": not logged in to the cluster: " + error.message,
                  "refresh your credentials (kubectl must work with this context too)");
    case kube::ApiReason::NotFound:
      throw Error(ErrorCategory::User, what + ": " + error.message, "check the name and the namespace");
    case kube::ApiReason::Transport:
      throw Error(ErrorCategory::Cluster, what + ": " + error.message,
                  "check the network, VPN or proxy to the cluster");
    default:
      throw Error(ErrorCategory::Cluster, what + ": " + error.describe(), "see the backend log for details");
  }
}

}  // namespace

ContextList Backend::contexts(const ConnectionOptions& options) const {
  kube::Kubeconfig config;
  try {
    config = kube::loadKubeconfig(overridesOf(options), kube::ConfigEnvironment::fromProcess());
  } catch (const kube::ConfigError& error) {
    throw Error(ErrorCategory::Config, error.what(),
                "fix the kubeconfig or point KUBECONFIG at another file");
  }
  ContextList list;
  list.current = options.context.value_or(config.currentContext);
  list.files = config.files;
  for (const auto& [name, context] : config.contexts) {
    ContextSummary summary{name, context.cluster,     context.user, context.namespaceName,
                           {},   name == list.current};
    if (const auto cluster = config.clusters.find(context.cluster); cluster != config.clusters.end()) {
      summary.server = cluster->second.server;
    }
    list.contexts.push_back(std::move(summary));
  }
  return list;
}

std::shared_ptr<kube::Client> Backend::clientFor(const ConnectionOptions& options) {
  auto resolved = resolve(options);
  const auto key = options.kubeconfig.value_or("") + "\n" + resolved.contextName;
  std::lock_guard lock(clientsMutex_);
  auto& client = clients_[key];
  if (!client) client = std::make_shared<kube::Client>(std::move(resolved));
  return client;
}

std::vector<kube::NamespaceSummary> Backend::namespaces(const ConnectionOptions& options) {
  auto client = clientFor(options);
  auto result = kube::listNamespaces(*client);
  if (!result) raise(result.error(), "listing namespaces in context " + client->config().contextName);
  return std::move(result).value();
}

std::vector<ServiceView> Backend::services(const ConnectionOptions& options) {
  auto client = clientFor(options);
  const auto namespaceName = options.namespaceName.value_or(client->config().namespaceName);
  auto result = kube::listServices(*client, namespaceName);
  // A namespace that does not exist lists no Services rather than failing (typed by hand where namespaces
  // cannot be listed): say so, when this identity may look the namespace up.
  if ((result && result.value().empty()) || result.is(kube::ApiReason::NotFound)) {
    if (client->getSync(kube::resources::namespaces, "", namespaceName).is(kube::ApiReason::NotFound)) {
      throw Error(ErrorCategory::User, "namespace \"" + namespaceName + "\" does not exist",
                  "check its name, or use another namespace",
                  ErrorDetail{"namespace-not-found", "namespace"});
    }
  }
  if (!result) raise(result.error(), "listing services in namespace " + namespaceName);
  std::vector<ServiceView> views;
  for (auto& service : result.value()) {
    ServiceView view{std::move(service), std::nullopt, {}, {}};
    const auto& annotations = view.service.annotations;
    // Held: locked by an exchange, or created by a preview (its own Service, labelled as Tether's).
    namespace labels = session::labels;
    auto holderId = labels::valueOf(annotations, labels::kLockedBy);
    if (holderId.empty() && labels::valueOf(view.service.labels, labels::kRole) == labels::kRolePreview &&
        labels::valueOf(view.service.labels, labels::kManagedBy) == labels::kManagedByValue) {
      holderId = labels::valueOf(view.service.labels, labels::kSession);
    }
    if (labels::valueOf(annotations, labels::kMode) == "mesh") {
      for (const auto& [id, owner] : session::meshMembers(view.service))
        view.meshedBy.push_back(Holder{id, "mesh", owner, labels::valueOf(annotations, labels::kSince)});
    }
    if (labels::valueOf(view.service.labels, labels::kRole) == labels::kRoleStable &&
        labels::valueOf(view.service.labels, labels::kManagedBy) == labels::kManagedByValue) {
      const auto& name = view.service.name;
      view.stableOf = name.substr(0, name.size() - std::string_view("-tether-stable").size());
    }
    if (!holderId.empty()) {
      Holder holder;
      holder.session = holderId;
      if (const auto owner = annotations.find(session::labels::kOwner); owner != annotations.end())
        holder.owner = owner->second;
      if (const auto mode = annotations.find(session::labels::kMode); mode != annotations.end())
        holder.mode = mode->second;
      if (const auto since = annotations.find(session::labels::kHeartbeat); since != annotations.end())
        holder.since = since->second;
      view.heldBy = std::move(holder);
    }
    views.push_back(std::move(view));
  }
  return views;
}

}  // namespace tether::core
