// ExchangeActions.cpp - exchange's own actions: read the Service, lock it, point it at the shadow (or scale
// its Deployments to 0), renew the lock's heartbeat and put everything back. The steps every mode shares
// are in ShadowActions.cpp and TunnelActions.cpp. Expected failures become Outcomes whose message names
// the object and what to do; nothing here throws for a cluster's answer.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/kube/Client.hpp"
#include "server/session/ActionOutcome.hpp"
#include "server/session/Labels.hpp"
#include "server/session/ShadowSessionImpl.hpp"

namespace tether::session {

using action::done;
using action::failed;
using action::fromError;
using action::isNumber;
using action::transient;

namespace {

std::string annotation(const kube::ServiceSummary& service, const char* key) {
  return labels::valueOf(service.annotations, key);
}

// Why a Service cannot be taken: another session holds it. One of the user's own that this backend is not
// running is most likely a dead one (a killed terminal, a crashed IDE), so it says so first.
Outcome heldBy(const std::string& where, const std::string& holder, const std::string& owner,
               const std::string& since, const SessionSpec& request) {
  const std::string clean = remedy::cleanStale(request.audience, request.namespaceName);
  const auto& running = request.runningHere;
  if (std::find(running.begin(), running.end(), holder) != running.end()) {
    return Outcome{OutcomeKind::Held,
                   where + " is held by session " + holder + ", which this Tether runs (since " + since +
                       "); stop that session first",
                   Blame::User, FailureReason::HeldByRunningSession};
  }
  if (!owner.empty() && owner == request.owner) {
    return Outcome{OutcomeKind::Held,
                   where + " is held by your own session " + holder + " (since " + since +
                       "), which is not one this Tether runs: if it ended without restoring the Service, " +
                       clean + "; if it still runs elsewhere, stop it there",
                   Blame::User, FailureReason::HeldByOwnSession};
  }
  return Outcome{OutcomeKind::Held,
                 where + " is held by session " + holder + " of " + owner + " since " + since +
                     "; ask them to stop it, or " + clean + " if that session is dead",
                 Blame::User, FailureReason::HeldByOtherSession};
}

}  // namespace

Outcome ShadowSession::Impl::readService() {
  const auto where = "Service \"" + request.service + "\" in namespace \"" + request.namespaceName + "\"";
  auto service = kube::getService(*client, request.namespaceName, request.service);
  if (service.is(kube::ApiReason::NotFound)) {
    return serviceNotFound(where);
  }
  if (service.is(kube::ApiReason::Forbidden)) {
    // Say everything that is missing at once, not only the first refused call.
    if (auto access = checkAccess(); access.kind != OutcomeKind::Done) return access;
  }
  if (!service) return fromError(service.error(), "reading " + where);
  original = service.value();
  if (original.namespaceName.empty()) original.namespaceName = request.namespaceName;
  if (original.type == "ExternalName") {
    return failed(where + " is an ExternalName Service (an alias for " + original.externalName +
                  "); it has no pods to exchange: exchange the Service it points to");
  }
  if (original.selector.empty()) {
    return failed(where +
                  " has no selector (its endpoints are managed by hand); Tether can only exchange "
                  "a Service that selects pods");
  }
  if (const auto mesh = annotation(original, labels::kMeshSessions);
      !mesh.empty() && request.mode != Mode::Mesh) {
    return Outcome{OutcomeKind::Held,
                   where + " is shared in a mesh by " + mesh +
                       " (session=owner); exchange would take it from them. " +
                       (request.audience == Audience::Ide ? "Join with mode mesh and a header"
                                                          : "Join with `tether mesh` and a header") +
                       ", or wait until they stop"};
  }
  if (const auto holder = annotation(original, labels::kLockedBy); !holder.empty() && holder != request.id) {
    // Checked again, atomically, when locking; saying it now avoids any write.
    return heldBy(where, holder, annotation(original, labels::kOwner), annotation(original, labels::kSince),
                  request);
  }
  try {
    exposed = resolveExpose(request.expose, original);
  } catch (const ExposeError& error) {
    return failed(where + ": " + remedy::exposeProblem(request.audience, error.what()),
                  FailureReason::InvalidExpose);
  }
  // Named targetPorts name container ports of the selected pods: look their numbers up.
  std::map<std::string, int> named;
  const bool anyNamed = std::any_of(exposed.begin(), exposed.end(),
                                    [](const ExposedPort& port) { return !isNumber(port.targetPort); });
  if (anyNamed) {
    auto ports = kube::namedContainerPorts(*client, request.namespaceName, original.selector);
    if (!ports) return fromError(ports.error(), "reading the pods of " + where);
    named = ports.value();
  }
  targetNumbers.clear();
  for (const auto& port : exposed) {
    if (isNumber(port.targetPort)) {
      targetNumbers.push_back(std::stoi(port.targetPort));
    } else if (const auto found = named.find(port.targetPort); found != named.end()) {
      targetNumbers.push_back(found->second);
    } else {
      return failed(where + ": its port " + std::to_string(port.servicePort) +
                    " targets the container port \"" + port.targetPort + "\", which no pod selected by " +
                    kube::selectorString(original.selector) +
                    " declares; start the workload once, or expose a Service port with a numeric targetPort");
    }
  }
  if (request.strategy == Strategy::Scale) {
    auto deployments = kube::listDeployments(*client, request.namespaceName);
    if (!deployments)
      return fromError(deployments.error(), "listing Deployments in " + request.namespaceName);
    originalReplicas.clear();
    for (const auto& deployment : deployments.value()) {
      const bool selects =
          std::all_of(original.selector.begin(), original.selector.end(), [&](const auto& pair) {
            const auto found = deployment.templateLabels.find(pair.first);
            return found != deployment.templateLabels.end() && found->second == pair.second;
          });
      if (selects) originalReplicas[deployment.name] = deployment.replicas;
    }
    if (originalReplicas.empty()) {
      return failed("strategy scale: no Deployment in " + request.namespaceName + " runs the pods of " +
                        where + " (selector " + kube::selectorString(original.selector) + "); use " +
                        remedy::strategy(request.audience, "selector"),
                    FailureReason::StrategyUnsuitable);
    }
  }
  publishExposed();
  return done();
}

Outcome ShadowSession::Impl::lock() {
  auto now = serverClock.now();
  if (!now) return fromError(now.error(), "reading the cluster's clock");
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (!current) return fromError(current.error(), "reading Service " + request.service);
  if (const auto mesh = annotation(current.value(), labels::kMeshSessions); !mesh.empty()) {
    return Outcome{OutcomeKind::Held, "Service \"" + request.service + "\" is shared in a mesh by " + mesh +
                                          " (session=owner); exchange would take it from them"};
  }
  const auto holder = annotation(current.value(), labels::kLockedBy);
  if (!holder.empty() && holder != request.id) {
    return heldBy("Service \"" + request.service + "\" in namespace \"" + request.namespaceName + "\"",
                  holder, annotation(current.value(), labels::kOwner),
                  annotation(current.value(), labels::kSince), request);
  }
  // What is saved is what this session read first: a write between the two reads would be a conflict below.
  if (current.value().resourceVersion != original.resourceVersion) original = current.value();
  const auto stamp = kube::formatTimestamp(now.value());
  kube::ServiceChange change;
  change.annotations = {{labels::kLockedBy, request.id},
                        {labels::kOwner, request.owner},
                        {labels::kSince, stamp},
                        {labels::kHeartbeat, stamp},
                        {labels::kMode, "exchange"},
                        {labels::kStrategy, toString(request.strategy)},
                        {labels::kOriginalSelector, kube::selectorString(original.selector)}};
  if (request.strategy == Strategy::Scale) {
    std::string replicas;
    for (const auto& [name, count] : originalReplicas) {
      if (!replicas.empty()) replicas += ",";
      replicas += name + "=" + std::to_string(count);
    }
    change.annotations[labels::kOriginalReplicas] = replicas;
  }
  auto written = kube::changeService(*client, current.value(), change);
  if (!written && transient(written.error())) {
    // The answer was lost, not necessarily the write: if the lock is ours, it was taken (and must be undone).
    auto again = kube::getService(*client, request.namespaceName, request.service);
    if (again && annotation(again.value(), labels::kLockedBy) == request.id) written = again.value();
  }
  if (!written) return fromError(written.error(), "locking Service " + request.service);
  lastHeartbeat = std::chrono::steady_clock::now();
  {
    std::lock_guard guard(mutex);
    snap.startedAt = stamp;
  }
  return done();
}

Outcome ShadowSession::Impl::pointSelector() {
  if (request.strategy == Strategy::Scale) {
    auto labelled =
        kube::changePodLabels(*client, request.namespaceName, shadowName,
                              kube::MapChange(original.selector.begin(), original.selector.end()));
    if (!labelled) return fromError(labelled.error(), "labelling the shadow pod");
    for (const auto& [name, replicas] : originalReplicas) {
      // The Deployment itself says who scaled it and from what, where only those who may patch it can
      // write: `tether clean` trusts that, not the Service's annotations, before scaling anything back.
      auto marked = kube::changeDeploymentAnnotations(
          *client, request.namespaceName, name,
          {{labels::kScaledBy, request.id}, {labels::kOriginalReplicas, std::to_string(replicas)}});
      if (!marked)
        return fromError(marked.error(), "marking Deployment " + name + " as scaled by this session");
      auto scaled = kube::setDeploymentReplicas(*client, request.namespaceName, name, 0);
      if (!scaled) return fromError(scaled.error(), "scaling Deployment " + name + " to 0");
    }
    return done();
  }
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (!current) return fromError(current.error(), "reading Service " + request.service);
  if (annotation(current.value(), labels::kLockedBy) != request.id) {
    return failed("Service " + request.service + " is no longer locked by this session (removed by " +
                  remedy::cleaner(request.audience) + " or by hand); stopping");
  }
  kube::ServiceChange change;
  change.selector = std::map<std::string, std::string>{{labels::kSession, request.id}};
  auto written = kube::changeService(*client, current.value(), change);
  if (!written) return fromError(written.error(), "pointing Service " + request.service + " at the shadow");
  if (!watchingService) {
    watchingService = true;
    const auto id = request.id;
    serviceWatch = kube::watchService(*client, request.namespaceName, request.service, executor,
                                      [this, id](const kube::ServiceSummary& service) {
                                        const auto found = service.selector.find(labels::kSession);
                                        const bool ours = service.selector.size() == 1 &&
                                                          found != service.selector.end() &&
                                                          found->second == id;
                                        if (ours || annotation(service, labels::kLockedBy) != id) return;
                                        {
                                          std::lock_guard guard(mutex);
                                          if (snap.state != SessionState::Active) return;
                                          selectorOverwritten = true;
                                        }
                                        wake.notify_all();
                                        wakeDriver();
                                      });
  }
  return done();
}

Outcome ShadowSession::Impl::renewServiceHeartbeat() {
  auto retryOr = [&](const kube::ApiError& error, const std::string& what) {
    if (transient(error)) return Outcome{OutcomeKind::Retry, what + ": " + error.message + "; retrying"};
    return fromError(error, what);
  };
  lastHeartbeatAttempt = std::chrono::steady_clock::now();
  auto now = serverClock.now();
  if (!now) return retryOr(now.error(), "reading the cluster's clock");
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (!current) return retryOr(current.error(), "reading Service " + request.service);
  if (annotation(current.value(), labels::kLockedBy) != request.id) {
    return failed("the lock on Service " + request.service + " was removed by someone else (" +
                  remedy::cleaner(request.audience) + "?); the session ends");
  }
  kube::ServiceChange change;
  change.annotations = {{labels::kHeartbeat, kube::formatTimestamp(now.value())}};
  auto written = kube::changeService(*client, current.value(), change);
  if (!written) return retryOr(written.error(), "renewing the heartbeat on Service " + request.service);
  lastHeartbeat = std::chrono::steady_clock::now();
  return done();
}

Outcome ShadowSession::Impl::restoreService() {
  dropOnIo(executor, std::move(serviceWatch));
  if (request.strategy == Strategy::Scale) {
    for (const auto& [name, replicas] : originalReplicas) {
      auto scaled = kube::setDeploymentReplicas(*client, request.namespaceName, name, replicas);
      if (!scaled)
        return fromError(scaled.error(),
                         "scaling Deployment " + name + " back to " + std::to_string(replicas));
      auto unmarked = kube::changeDeploymentAnnotations(
          *client, request.namespaceName, name,
          {{labels::kScaledBy, std::nullopt}, {labels::kOriginalReplicas, std::nullopt}});
      if (!unmarked && !unmarked.is(kube::ApiReason::NotFound)) {
        return fromError(unmarked.error(), "removing Tether's annotations from Deployment " + name);
      }
    }
    for (const auto& [name, replicas] : originalReplicas) {
      {
        std::lock_guard guard(mutex);
        workloadResult.reset();
      }
      auto waiter =
          kube::waitDeploymentReady(*client, request.namespaceName, name, replicas,
                                    timings.workloadReadyTimeout, executor, [this](kube::Result<int> result) {
                                      {
                                        std::lock_guard guard(mutex);
                                        workloadResult = std::move(result);
                                      }
                                      wake.notify_all();
                                    });
      bool timedOut = false;
      waitFor(
          timings.workloadReadyTimeout + std::chrono::seconds(5), [&] { return workloadResult.has_value(); },
          timedOut, /*stoppable=*/false);
      dropOnIo(executor, std::move(waiter));
      if (timedOut || !workloadResult || !*workloadResult) {
        spdlog::warn("session {}: Deployment {} is not Ready again yet", request.id, name);
      }
    }
  }
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (current.is(kube::ApiReason::NotFound)) return done();  // deleted meanwhile: nothing to restore
  if (!current) return fromError(current.error(), "reading Service " + request.service);
  if (annotation(current.value(), labels::kLockedBy) != request.id)
    return done();  // restored by `tether clean`
  kube::ServiceChange change;
  if (request.strategy == Strategy::Selector) change.selector = original.selector;
  for (const auto* key : labels::kServiceLockAnnotations) {
    if (!original.annotations.contains(key)) change.annotations[key] = std::nullopt;
  }
  auto written = kube::changeService(*client, current.value(), change);
  if (!written) return fromError(written.error(), "restoring Service " + request.service);
  if (written.value().specJson != original.specJson) {
    spdlog::warn("session {}: Service {} restored, but its spec differs from before: {} vs {}", request.id,
                 request.service, written.value().specJson, original.specJson);
  }
  return done();
}

}  // namespace tether::session
