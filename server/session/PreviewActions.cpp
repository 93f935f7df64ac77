// PreviewActions.cpp - preview's own actions: check that the Service's name is free (before anything is
// created), create the Service once the tunnel is up (selecting only the shadow), renew its heartbeat, and
// delete it on stop. The Service is Tether's from the start: labelled `managed-by=tether`, role `preview`
// and the session id, so `tether clean` can delete what a crashed preview left.
#include <spdlog/spdlog.h>

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

bool ownedBy(const kube::ServiceSummary& service, const std::string& id) {
  return labels::valueOf(service.labels, labels::kSession) == id &&
         labels::valueOf(service.labels, labels::kManagedBy) == labels::kManagedByValue &&
         labels::valueOf(service.labels, labels::kRole) == labels::kRolePreview;
}

}  // namespace

Outcome ShadowSession::Impl::checkPreviewName() {
  const auto where = "Service \"" + request.service + "\" in namespace \"" + request.namespaceName + "\"";
  auto existing = kube::getService(*client, request.namespaceName, request.service);
  if (existing) {
    return failed(where + " already exists; preview creates a new Service of its own: choose another name" +
                  (request.audience == Audience::Ide
                       ? " (or use mode exchange to take over this one)"
                       : " (or use `tether exchange " + request.service + "` to take over this one)"));
  }
  if (!existing.is(kube::ApiReason::NotFound) && !existing.is(kube::ApiReason::Forbidden)) {
    return fromError(existing.error(), "reading " + where);
  }
  if (auto missing = namespaceMissing()) return *missing;
  // A preview Service's ports are the numbers given: LOCAL[:PORT], PORT defaulting to LOCAL.
  exposed.clear();
  targetNumbers.clear();
  for (const auto& spec : request.expose) {
    int port = spec.local;
    if (!spec.remote.empty()) {
      if (!isNumber(spec.remote) || spec.remote.size() > 5) {
        return failed("a preview Service's port is a number, not \"" + spec.remote +
                      "\"; write LOCAL[:PORT], e.g. 12001:80");
      }
      port = std::stoi(spec.remote);
    }
    if (port < 1 || port > 65535) {
      return failed("port " + std::to_string(port) + " is not a valid Service port (1-65535)");
    }
    exposed.push_back({spec.local, port, "port-" + std::to_string(port), std::to_string(port)});
    targetNumbers.push_back(port);
  }
  publishExposed();
  return done();
}

Outcome ShadowSession::Impl::createPreviewService() {
  auto now = serverClock.now();
  if (!now) return fromError(now.error(), "reading the cluster's clock");
  const auto stamp = kube::formatTimestamp(now.value());
  kube::NewService service;
  service.meta.name = request.service;
  service.meta.namespaceName = request.namespaceName;
  service.meta.labels = {{labels::kSession, request.id},
                         {labels::kManagedBy, labels::kManagedByValue},
                         {labels::kRole, labels::kRolePreview}};
  service.meta.annotations = {{labels::kOwner, request.owner},
                              {labels::kMode, toString(Mode::Preview)},
                              {labels::kSince, stamp},
                              {labels::kHeartbeat, stamp}};
  service.type = request.serviceType;
  service.selector = {{labels::kSession, request.id}};
  for (std::size_t i = 0; i < exposed.size(); ++i) {
    service.ports.push_back(
        {"port-" + std::to_string(exposed[i].servicePort), exposed[i].servicePort, targetNumbers[i], ""});
  }
  auto created = kube::createService(*client, service);
  if (!created && transient(created.error())) {
    // The answer may have been lost, not the create: a Service labelled as this session's is ours.
    if (auto again = kube::getService(*client, request.namespaceName, request.service);
        again && ownedBy(again.value(), request.id)) {
      created = again.value();
    }
  }
  if (created.is(kube::ApiReason::AlreadyExists)) {
    return failed("Service \"" + request.service + "\" in namespace \"" + request.namespaceName +
                  "\" was created by someone else while this preview started; choose another name");
  }
  if (!created) return fromError(created.error(), "creating Service " + request.service);
  lastHeartbeat = std::chrono::steady_clock::now();
  std::lock_guard guard(mutex);
  snap.startedAt = stamp;
  return done();
}

Outcome ShadowSession::Impl::renewPreviewHeartbeat() {
  lastHeartbeatAttempt = std::chrono::steady_clock::now();
  auto now = serverClock.now();
  if (!now) {
    if (transient(now.error())) return Outcome{OutcomeKind::Retry, now.error().message};
    return fromError(now.error(), "reading the cluster's clock");
  }
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (current.is(kube::ApiReason::NotFound) || (current && !ownedBy(current.value(), request.id))) {
    return failed("Service " + request.service + " was deleted by someone else (" +
                  remedy::cleaner(request.audience) + "?); the session ends");
  }
  if (!current) {
    if (transient(current.error())) return Outcome{OutcomeKind::Retry, current.error().message};
    return fromError(current.error(), "reading Service " + request.service);
  }
  kube::ServiceChange change;
  change.annotations = {{labels::kHeartbeat, kube::formatTimestamp(now.value())}};
  auto written = kube::changeService(*client, current.value(), change);
  if (!written) {
    if (transient(written.error())) return Outcome{OutcomeKind::Retry, written.error().message};
    return fromError(written.error(), "renewing the heartbeat on Service " + request.service);
  }
  lastHeartbeat = std::chrono::steady_clock::now();
  return done();
}

Outcome ShadowSession::Impl::deletePreviewService() {
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (current.is(kube::ApiReason::NotFound)) return done();
  if (!current) return fromError(current.error(), "reading Service " + request.service);
  if (!ownedBy(current.value(), request.id)) return done();  // deleted, and the name taken by someone else
  auto removed = client->removeSync(kube::resources::services, request.namespaceName, request.service);
  if (!removed && !removed.is(kube::ApiReason::NotFound)) {
    return fromError(removed.error(), "deleting Service " + request.service);
  }
  return done();
}

}  // namespace tether::session
