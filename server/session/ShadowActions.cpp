// ShadowActions.cpp - the steps every mode shares: which action runs for the mode, the permission check,
// the shadow pod (and its token Secret) created, awaited and deleted, and the heartbeat. Each mode's own
// steps are in its file (ExchangeActions.cpp, PreviewActions.cpp); the tunnel's in TunnelActions.cpp.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/kube/Client.hpp"
#include "server/session/ActionOutcome.hpp"
#include "server/session/Labels.hpp"
#include "server/session/ShadowSessionImpl.hpp"
#include "support/text/Random.hpp"

namespace tether::session {

using action::done;
using action::failed;
using action::fromError;
using action::isNumber;
using action::transient;

namespace {

std::string dnsName(std::string text) {
  for (auto& c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) c = '-';
  }
  return text;
}

}  // namespace

// tether-<service>-<id> (connect: tether-connect-<id>); `tether clean` expects exactly this name.
std::string shadowBaseName(const SessionSpec& spec) {
  const auto what = spec.service.empty() ? std::string("connect") : spec.service;
  return dnsName("tether-" + what).substr(0, 40) + "-" + spec.id;
}

Outcome ShadowSession::Impl::execute(ActionKind kind) {
  // The heartbeat must outlive the slow steps of a start too, or another user's `tether clean` takes the
  // session for dead: the lock's from Lock on, the shadow pod's from its creation.
  if ((machine.lockTaken() || machine.shadowCreated()) && kind != ActionKind::RenewHeartbeat &&
      kind != ActionKind::RestoreTraffic && kind != ActionKind::DeleteShadow) {
    renewIfDue();
  }
  switch (kind) {
    case ActionKind::ReadService:
      if (request.mode == Mode::Preview) {
        progress("Checking that Service " + request.service + " does not exist yet");
        return checkPreviewName();
      }
      progress("Reading Service " + request.service);
      if (request.mode == Mode::Mesh) return readMeshService();
      return request.mode == Mode::Forward ? readForwardService() : readService();
    case ActionKind::CheckAccess:
      if (request.mode == Mode::Connect) {
        // connect reads no Service, so nothing else would say that the namespace does not exist.
        progress("Reading namespace " + request.namespaceName);
        if (auto missing = namespaceMissing()) return *missing;
      }
      progress("Checking permissions in " + request.namespaceName);
      return checkAccess();
    case ActionKind::Lock:
      if (request.mode == Mode::Mesh) {
        progress("Joining the mesh of Service " + request.service);
        return joinMesh();
      }
      progress("Locking Service " + request.service);
      return lock();
    case ActionKind::CreateShadow:
      progress("Creating the shadow pod");
      return createShadow();
    case ActionKind::AwaitShadowReady:
      progress("Waiting for the shadow pod to be Ready");
      return awaitShadowReady();
    case ActionKind::OpenTunnel:
      if (tunnelStarted) return awaitReconnect();
      progress("Opening the tunnel");
      return openTunnel();
    case ActionKind::MoveTraffic:
      if (request.awaitLocal && !trafficMoved) {
        if (auto waited = awaitLocalListeners(); waited.kind != OutcomeKind::Done) return waited;
      }
      trafficMoved = true;
      if (request.mode == Mode::Preview) {
        progress("Creating Service " + request.service);
        return createPreviewService();
      }
      if (request.mode == Mode::Mesh) return enterMesh();
      progress("Sending the traffic of " + request.service + " here");
      return pointSelector();
    case ActionKind::ReassertSelector: {
      // Something that keeps changing the selector (a controller) is not fought for ever.
      const auto now = std::chrono::steady_clock::now();
      std::erase_if(reasserts, [&](auto when) { return now - when > std::chrono::minutes(1); });
      reasserts.push_back(now);
      if (reasserts.size() > timings.maxReassertsPerMinute) {
        return failed("something keeps changing the selector of Service " + request.service +
                          " (a controller or a deploy loop); the session ends rather than fight it. Try " +
                          remedy::strategy(request.audience, "scale"),
                      FailureReason::StrategyUnsuitable);
      }
      return pointSelector();
    }
    case ActionKind::RenewHeartbeat:
      return renewHeartbeat();
    case ActionKind::RestoreTraffic:
      progress((request.mode == Mode::Preview ? "Deleting Service " : "Restoring Service ") +
               request.service);
      if (restoreTries++ > 0) {
        // A pause that grows with each try, so a short API outage does not use up every attempt.
        bool timedOut = false;
        waitFor(
            timings.restoreBackoff * restoreTries, [] { return false; }, timedOut, /*stoppable=*/false);
      }
      if (request.mode == Mode::Mesh) return leaveMesh();
      return request.mode == Mode::Preview ? deletePreviewService() : restoreService();
    case ActionKind::DeleteShadow:
      progress("Deleting the shadow pod");
      return deleteShadow();
    case ActionKind::Activated:
    case ActionKind::Finished:
      break;
  }
  return done();
}

Outcome ShadowSession::Impl::checkAccess() {
  const auto& ns = request.namespaceName;
  // What every mode does: the shadow pod, its token Secret, the port-forward, and the heartbeat.
  std::vector<kube::AccessCheck> checks{
      {"create", "", "pods", "", ns, ""},
      {"delete", "", "pods", "", ns, ""},
      {"watch", "", "pods", "", ns, ""},
      {"create", "", "pods", "portforward", ns, ""},
      // Port-forward over WebSocket is a GET: authorized as `get` (and, from 1.35, also `create`).
      {"get", "", "pods", "portforward", ns, ""},
      {"list", "", "pods", "", ns, ""},
      {"list", "", "services", "", ns, ""},
      {"create", "", "secrets", "", ns, ""},
      {"delete", "", "secrets", "", ns, ""},
  };
  switch (request.mode) {
    case Mode::Exchange:
      checks.push_back({"get", "", "services", "", ns, request.service});
      checks.push_back({"patch", "", "services", "", ns, request.service});
      checks.push_back({"watch", "", "services", "", ns, ""});
      break;
    case Mode::Mesh:
      checks.push_back({"get", "", "services", "", ns, request.service});
      checks.push_back({"patch", "", "services", "", ns, request.service});
      checks.push_back({"create", "", "services", "", ns, ""});  // the stable Service
      checks.push_back({"delete", "", "services", "", ns, ""});
      checks.push_back({"patch", "", "pods", "", ns, ""});  // the heartbeat on the shadow pod
      break;
    case Mode::Preview:
      checks.push_back({"get", "", "services", "", ns, request.service});
      checks.push_back({"create", "", "services", "", ns, ""});
      checks.push_back({"patch", "", "services", "", ns, request.service});
      checks.push_back({"delete", "", "services", "", ns, request.service});
      break;
    case Mode::Forward:
      checks.push_back({"get", "", "services", "", ns, request.service});
      checks.push_back({"patch", "", "pods", "", ns, ""});  // the heartbeat on the shadow pod
      break;
    case Mode::Connect:
      checks.push_back({"patch", "", "pods", "", ns, ""});  // the heartbeat on the shadow pod
      break;
  }
  if (request.mode == Mode::Exchange && request.strategy == Strategy::Scale) {
    checks.push_back({"list", "apps", "deployments", "", ns, ""});
    checks.push_back({"watch", "apps", "deployments", "", ns, ""});
    checks.push_back({"patch", "apps", "deployments", "scale", ns, ""});
    checks.push_back({"patch", "apps", "deployments", "", ns, ""});  // the scaled-by record on the Deployment
    checks.push_back({"patch", "", "pods", "", ns, ""});
  }
  auto decisions = kube::reviewAccess(*client, checks);
  if (!decisions) return fromError(decisions.error(), "checking permissions in namespace " + ns);
  std::string missing;
  for (const auto& decision : decisions.value()) {
    if (decision.allowed) continue;
    if (!missing.empty()) missing += ", ";
    missing += decision.check.describe();
  }
  if (!missing.empty()) {
    return failed(
        "you (context " + request.contextName + ") may not " + missing + " in namespace " + ns +
            "; nothing was changed. Ask a cluster admin for these permissions, or use another context",
        FailureReason::Forbidden);
  }
  return done();
}

Outcome ShadowSession::Impl::createShadow() {
  token = support::randomHex(24);
  const auto base = shadowBaseName(request);
  shadowName = base;
  secretName = base + "-token";
  const std::map<std::string, std::string> ownLabels{{labels::kSession, request.id},
                                                     {labels::kManagedBy, labels::kManagedByValue}};
  kube::ObjectMeta secret;
  secret.name = secretName;
  secret.namespaceName = request.namespaceName;
  secret.labels = ownLabels;
  secret.annotations = {{labels::kOwner, request.owner}};
  secret.labels[labels::kRole] = labels::kRoleToken;
  auto createdSecret = kube::createSecret(*client, secret, {{"token", token}});
  if (!createdSecret) return fromError(createdSecret.error(), "creating the shadow's token Secret");

  // The tunnel and readiness ports must not collide with the ports the shadow takes over.
  auto used = [&](int port) {
    return std::find(targetNumbers.begin(), targetNumbers.end(), port) != targetNumbers.end();
  };
  std::uint16_t tunnelPort = timings.shadowTunnelPort, readyPort = timings.shadowReadyPort;
  while (used(tunnelPort) || used(readyPort)) {
    tunnelPort = static_cast<std::uint16_t>(tunnelPort + 10);
    readyPort = static_cast<std::uint16_t>(readyPort + 10);
  }
  timings.shadowTunnelPort = tunnelPort;
  kube::SimplePod pod;
  pod.name = shadowName;
  pod.namespaceName = request.namespaceName;
  pod.labels = ownLabels;
  pod.labels[labels::kRole] = labels::kRoleShadow;
  pod.annotations = {{labels::kOwner, request.owner}, {labels::kMode, toString(request.mode)}};
  if (request.mode != Mode::Exchange) {
    // Alive from its creation: modes without a lock keep their heartbeat here (see renewHeartbeat).
    auto now = serverClock.now();
    if (!now) {
      client->removeSync(kube::resources::secrets, request.namespaceName, secretName);
      return fromError(now.error(), "reading the cluster's clock");
    }
    pod.annotations[labels::kHeartbeat] = kube::formatTimestamp(now.value());
  }
  pod.image = request.image;
  pod.args = {"--tunnel-port", std::to_string(tunnelPort), "--ready-port", std::to_string(readyPort)};
  pod.envFromSecret = {{"TETHER_SHADOW_TOKEN", {secretName, "token"}}};
  // The agent announces its pod's UID in the handshake, inside its proof: the tunnel client pins it.
  pod.envFromField = {{"TETHER_POD_UID", "metadata.uid"}};
  for (std::size_t i = 0; i < targetNumbers.size(); ++i) {  // the ports the shadow takes over (none: forward)
    // Named targetPorts keep their names, so the Service resolves them on the shadow as on its own pods.
    pod.ports.push_back(
        {isNumber(exposed[i].targetPort) ? std::string() : exposed[i].targetPort, targetNumbers[i]});
  }
  pod.readinessPort = readyPort;
  auto created = kube::createPod(*client, pod);
  if (!created && transient(created.error())) {
    // The answer may have been lost, not the create: a pod that exists is this session's to delete.
    if (auto existing = kube::getPodMeta(*client, request.namespaceName, shadowName);
        existing && labels::valueOf(existing.value().labels, labels::kSession) == request.id) {
      created = existing.value();
    }
  }
  if (!created) {
    client->removeSync(kube::resources::secrets, request.namespaceName, secretName);
    return fromError(created.error(), "creating the shadow pod (image " + request.image + ")");
  }
  shadowUid = created.value().uid;
  if (request.mode != Mode::Exchange) lastHeartbeat = std::chrono::steady_clock::now();
  // Deleting the pod (by hand, or by a namespace clean-up) then deletes the token with it.
  if (auto owned = kube::setSecretOwner(*client, request.namespaceName, secretName, created.value());
      !owned) {
    spdlog::warn("session {}: the token Secret {} was not given its pod as owner: {}", request.id, secretName,
                 owned.error().message);
  }
  std::lock_guard guard(mutex);
  snap.shadowPod = shadowName;
  return done();
}

Outcome ShadowSession::Impl::awaitShadowReady() {
  return awaitPodReady(shadowName, "the shadow pod");
}

// `what` names the pod in messages ("the shadow pod", "the mesh router"); both run the session's image.
Outcome ShadowSession::Impl::awaitPodReady(const std::string& pod, const std::string& what) {
  {
    std::lock_guard guard(mutex);
    podResult.reset();
  }
  auto waiter = kube::waitPodReady(*client, request.namespaceName, pod, timings.shadowReadyTimeout, executor,
                                   [this](kube::Result<kube::PodReadiness> result) {
                                     {
                                       std::lock_guard guard(mutex);
                                       podResult = std::move(result);
                                     }
                                     wake.notify_all();
                                   });
  bool timedOut = false;
  const bool notStopped = waitFor(
      timings.shadowReadyTimeout + std::chrono::seconds(5), [&] { return podResult.has_value(); }, timedOut);
  dropOnIo(executor, std::move(waiter));
  if (!notStopped) return failed("stopped while " + what + " was starting");
  std::lock_guard guard(mutex);
  const auto hint =
      "; check the image (" + remedy::imageSetting(request.audience) + "; now " + request.image + ")";
  if (timedOut || !podResult || !*podResult) {
    const std::string why =
        podResult && !*podResult ? podResult->error().message : "no answer from the watch";
    return failed(what + " " + pod + " did not become Ready: " + why + hint);
  }
  if (!podResult->value().ready) {
    return failed(what + " " + pod + " cannot start: " + podResult->value().problem + hint);
  }
  return done();
}

std::optional<Outcome> ShadowSession::Impl::namespaceMissing() {
  if (!client->getSync(kube::resources::namespaces, "", request.namespaceName).is(kube::ApiReason::NotFound))
    return std::nullopt;
  return failed(
      "namespace \"" + request.namespaceName + "\" does not exist" + remedy::listNamespaces(request.audience),
      FailureReason::NamespaceNotFound);
}

Outcome ShadowSession::Impl::serviceNotFound(const std::string& where) {
  if (auto missing = namespaceMissing()) return *missing;
  return failed(where + " was not found" + remedy::listServices(request.audience, request.namespaceName),
                FailureReason::ServiceNotFound);
}

void ShadowSession::Impl::publishExposed() {
  std::lock_guard guard(mutex);
  snap.exposed.clear();
  for (std::size_t i = 0; i < exposed.size(); ++i) {
    // Forward's shadow listens on nothing: no target number.
    const int target = i < targetNumbers.size() ? targetNumbers[i] : 0;
    snap.exposed.push_back({exposed[i].local, exposed[i].servicePort, target});
  }
}

// Where the heartbeat lives: on the Service the session holds (exchange's lock, preview's own Service), or,
// for modes that hold no Service, on the shadow pod itself, so `tether clean` elsewhere leaves it alone.
Outcome ShadowSession::Impl::renewHeartbeat() {
  if (request.mode == Mode::Exchange) return renewServiceHeartbeat();
  if (request.mode == Mode::Mesh) return renewMesh();
  // Preview's Service carries it once it exists; until then, and for connect and forward, the pod does.
  if (request.mode == Mode::Preview && machine.serviceHeld()) return renewPreviewHeartbeat();
  lastHeartbeatAttempt = std::chrono::steady_clock::now();
  auto renewed = renewPodHeartbeat();
  if (renewed.kind == OutcomeKind::Done) lastHeartbeat = std::chrono::steady_clock::now();
  return renewed;
}

Outcome ShadowSession::Impl::renewPodHeartbeat() {
  auto now = serverClock.now();
  if (!now) {
    if (transient(now.error()))
      return Outcome{OutcomeKind::Retry, "reading the cluster's clock: " + now.error().message};
    return fromError(now.error(), "reading the cluster's clock");
  }
  auto written = kube::changePodAnnotations(*client, request.namespaceName, shadowName,
                                            {{labels::kHeartbeat, kube::formatTimestamp(now.value())}});
  if (written.is(kube::ApiReason::NotFound)) {
    return failed("the shadow pod " + shadowName + " was deleted by someone else; the session ends");
  }
  if (!written) {
    if (transient(written.error())) {
      return Outcome{OutcomeKind::Retry,
                     "renewing the heartbeat on the shadow pod: " + written.error().message};
    }
    return fromError(written.error(), "renewing the heartbeat on the shadow pod " + shadowName);
  }
  return done();
}

void ShadowSession::Impl::renewIfDue() {
  if (std::chrono::steady_clock::now() - lastHeartbeat < heartbeatPeriod) return;
  if (const auto renewed = renewHeartbeat(); renewed.kind != OutcomeKind::Done) {
    spdlog::warn("session {}: heartbeat not renewed: {}", request.id, renewed.message);
  }
}

Outcome ShadowSession::Impl::deleteShadow() {
  stopTunnel();
  kube::DeleteOptions options;
  options.gracePeriodSeconds = 1;
  auto pod = client->removeSync(kube::resources::pods, request.namespaceName, shadowName, options);
  auto secret = client->removeSync(kube::resources::secrets, request.namespaceName, secretName);
  if (!pod && !pod.is(kube::ApiReason::NotFound)) return fromError(pod.error(), "deleting the shadow pod");
  if (!secret && !secret.is(kube::ApiReason::NotFound))
    return fromError(secret.error(), "deleting the token Secret");
  return done();
}

}  // namespace tether::session
