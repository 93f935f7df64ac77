// MeshActions.cpp - mesh's own actions. Many sessions share one Service: the first one in installs a router
// pod (tether-shadow --role router) and a stable Service that keeps the original selector, and points the
// Service at the router; every session then puts leases ("requests with these headers go to my shadow")
// through the router's control port and renews them; the last one out points the Service back and removes
// router and stable Service. Who is in is recorded on the Service itself (annotation mesh-sessions),
// changed only with resourceVersion preconditions, so two sessions joining or leaving at once never lose
// each other's entry.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "protocol/mesh/Control.hpp"
#include "server/kube/Client.hpp"
#include "server/session/ActionOutcome.hpp"
#include "server/session/Labels.hpp"
#include "server/session/MeshCleaner.hpp"
#include "server/session/MeshControl.hpp"
#include "server/session/ShadowSessionImpl.hpp"

namespace tether::session {

using action::done;
using action::failed;
using action::fromError;
using action::isNumber;
using action::transient;

namespace {

constexpr int kMaxMembershipConflicts = 8;

std::string annotation(const kube::ServiceSummary& service, const char* key) {
  return labels::valueOf(service.annotations, key);
}

// The member list as a map (meshMembers reads the annotation).
std::map<std::string, std::string> members(const kube::ServiceSummary& service) {
  const auto list = meshMembers(service);
  return {list.begin(), list.end()};
}

std::string membersText(const std::map<std::string, std::string>& entries) {
  std::string text;
  for (const auto& [id, owner] : entries) text += (text.empty() ? "" : ",") + id + "=" + owner;
  return text;
}

std::string describeMembers(const std::map<std::string, std::string>& entries) {
  std::string text;
  for (const auto& [id, owner] : entries)
    text += (text.empty() ? "" : ", ") + owner + " (session " + id + ")";
  return text;
}

// Names the router and the stable Service after the Service and the session that set the mesh up.
std::string clip(std::string text, std::size_t max) {
  if (text.size() > max) text.resize(max);
  while (!text.empty() && text.back() == '-') text.pop_back();
  return text;
}

std::string routerNameFor(const std::string& service, const std::string& id) {
  return clip("tether-" + service, 40) + "-router-" + id;
}

// What a Service port declares, as the router's --route-port protocol.
std::string protocolOf(const kube::ServicePortSummary& port) {
  auto declared = port.appProtocol.empty() ? port.name : port.appProtocol;
  std::transform(declared.begin(), declared.end(), declared.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto is = [&](std::string_view what) {
    return declared == what || declared.rfind(std::string(what) + "-", 0) == 0;
  };
  if (declared == "kubernetes.io/h2c" || is("grpc") || is("h2c") || is("http2")) return "h2c";
  if (is("https") || is("tls")) return "tls";
  if (is("http")) return "http";
  if (is("tcp")) return "tcp";
  return "auto";
}

}  // namespace

Outcome ShadowSession::Impl::readMeshService() {
  const auto where = "Service \"" + request.service + "\" in namespace \"" + request.namespaceName + "\"";
  if (auto read = readService(); read.kind != OutcomeKind::Done) return read;
  if (original.clusterIP == "None") {
    return failed(where +
                  " is headless: its clients resolve pod IPs and never pass a router; mesh needs a "
                  "Service with a cluster IP (exchange works on headless Services)");
  }
  // The ports the router takes: every port of the Service, named targetPorts resolved on its pods.
  std::map<std::string, int> named;
  const bool anyNamed = std::any_of(original.ports.begin(), original.ports.end(),
                                    [](const auto& port) { return !isNumber(port.targetPort); });
  if (anyNamed) {
    auto ports = kube::namedContainerPorts(*client, request.namespaceName, original.selector);
    if (!ports) return fromError(ports.error(), "reading the pods of " + where);
    named = ports.value();
  }
  for (const auto& port : original.ports) {
    if (port.protocol != "TCP") {
      return failed(where + ": port " + std::to_string(port.port) + " is " + port.protocol +
                    "; the mesh router carries TCP only");
    }
    if (!isNumber(port.targetPort) && !named.contains(port.targetPort)) {
      return failed(where + ": its port " + std::to_string(port.port) + " targets the container port \"" +
                    port.targetPort + "\", which no pod selected by " +
                    kube::selectorString(original.selector) +
                    " declares; start the workload once, or give the port a numeric targetPort");
    }
  }
  meshPortNumbers.clear();
  for (const auto& port : original.ports)
    meshPortNumbers.push_back(isNumber(port.targetPort) ? std::stoi(port.targetPort)
                                                        : named.at(port.targetPort));
  return done();
}

Outcome ShadowSession::Impl::joinMesh() {
  auto now = serverClock.now();
  if (!now) return fromError(now.error(), "reading the cluster's clock");
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (!current) return fromError(current.error(), "reading Service " + request.service);
  const auto& service = current.value();
  if (const auto holder = annotation(service, labels::kLockedBy); !holder.empty()) {
    const auto where = "Service \"" + request.service + "\" in namespace \"" + request.namespaceName +
                       "\" is exchanged by session " + holder;
    const auto owner = annotation(service, labels::kOwner);
    const auto& running = request.runningHere;
    if (std::find(running.begin(), running.end(), holder) != running.end()) {
      return Outcome{
          OutcomeKind::Held,
          where +
              ", which this Tether runs; mesh cannot share a Service that an exchange takes whole: "
              "stop that session first",
          Blame::User, FailureReason::HeldByRunningSession};
    }
    const bool own = !owner.empty() && owner == request.owner;
    return Outcome{OutcomeKind::Held,
                   where + " of " + owner + "; mesh shares a Service, exchange takes it whole. " +
                       (own ? "If that session of yours ended without restoring the Service, "
                            : "Ask them to stop, or if that session is dead, ") +
                       remedy::cleanStale(request.audience, request.namespaceName),
                   Blame::User, own ? FailureReason::HeldByOwnSession : FailureReason::HeldByOtherSession};
  }
  auto entries = members(service);
  entries[request.id] = request.owner;
  kube::ServiceChange change;
  change.annotations[labels::kMeshSessions] = membersText(entries);
  if (annotation(service, labels::kMeshRouter).empty()) {
    // The first one in: what the Service selects now is what stable keeps and what the last one restores.
    original = service;
    change.annotations[labels::kMeshRouter] = routerNameFor(request.service, request.id);
    change.annotations[labels::kMode] = "mesh";
    change.annotations[labels::kSince] = kube::formatTimestamp(now.value());
    change.annotations[labels::kOriginalSelector] = kube::selectorString(service.selector);
  }
  auto written = kube::changeService(*client, service, change);
  if (!written && transient(written.error())) {
    // The answer was lost, not necessarily the write: if the entry is there, this session is in.
    auto again = kube::getService(*client, request.namespaceName, request.service);
    if (again && members(again.value()).contains(request.id)) written = again.value();
  }
  if (!written) return fromError(written.error(), "joining the mesh of Service " + request.service);
  routerName = annotation(written.value(), labels::kMeshRouter);
  lastHeartbeat = std::chrono::steady_clock::now();
  std::lock_guard guard(mutex);
  snap.startedAt = kube::formatTimestamp(now.value());
  return done();
}

Outcome ShadowSession::Impl::installRouter(const kube::ServiceSummary& service) {
  const auto saved = kube::parseSelector(annotation(service, labels::kOriginalSelector));
  if (!saved || saved->empty()) {
    return failed("Service " + request.service + " carries no readable original selector (annotation " +
                      labels::kOriginalSelector + "); " + remedy::recover(request.audience, request.service),
                  FailureReason::NeedsRecover);
  }
  const std::map<std::string, std::string> own{{labels::kManagedBy, labels::kManagedByValue},
                                               {labels::kSession, routerName}};
  kube::NewService stable;
  stable.meta.name = stableServiceName(request.service);
  stable.meta.namespaceName = request.namespaceName;
  stable.meta.labels = own;
  stable.meta.labels[labels::kRole] = labels::kRoleStable;
  stable.selector = *saved;
  for (const auto& port : service.ports) {
    kube::NewServicePort copy{port.name, port.port, 0, ""};
    if (isNumber(port.targetPort))
      copy.targetPort = std::stoi(port.targetPort);
    else
      copy.targetName = port.targetPort;
    stable.ports.push_back(copy);
  }
  auto created = kube::createService(*client, stable);
  if (created.is(kube::ApiReason::AlreadyExists)) {
    created = kube::getService(*client, request.namespaceName, stable.meta.name);
    // Another member's install of this very mesh made it; the previous mesh's, still being deleted by its
    // last member, must not be adopted (it is about to disappear under the new router).
    if (created && labels::valueOf(created.value().labels, labels::kSession) != routerName) {
      return Outcome{OutcomeKind::Conflict, "the stable Service " + stable.meta.name +
                                                " of the previous mesh is still being removed"};
    }
  }
  if (!created) return fromError(created.error(), "creating the stable Service " + stable.meta.name);
  const auto stableIp = created.value().clusterIP;

  kube::SimplePod pod;
  pod.name = routerName;
  pod.namespaceName = request.namespaceName;
  pod.labels = own;
  pod.labels[labels::kRole] = labels::kRoleRouter;
  pod.labels[labels::kMeshRouter] = routerName;
  pod.annotations = {{labels::kMode, "mesh"}};
  pod.image = request.image;
  pod.args = {"--role",         "router",
              "--control-port", std::to_string(timings.routerControlPort),
              "--ready-port",   std::to_string(timings.shadowReadyPort)};
  std::set<int> listening;
  for (std::size_t i = 0; i < service.ports.size(); ++i) {
    const auto& port = service.ports[i];
    // Two Service ports with one target (80 -> 8080, 8080 -> 8080) are one listener: either reaches the
    // same container port through stable.
    if (!listening.insert(meshPortNumbers[i]).second) continue;
    pod.args.push_back("--route-port");
    pod.args.push_back(std::to_string(meshPortNumbers[i]) + "=" + stableIp + ":" + std::to_string(port.port) +
                       "/" + protocolOf(port));
    // Named targetPorts keep their names, so the Service resolves them on the router as on its own pods.
    pod.ports.push_back({isNumber(port.targetPort) ? std::string() : port.targetPort, meshPortNumbers[i]});
  }
  pod.readinessPort = timings.shadowReadyPort;
  auto router = kube::createPod(*client, pod);
  if (!router && !router.is(kube::ApiReason::AlreadyExists))
    return fromError(router.error(), "creating the mesh router pod (image " + request.image + ")");
  return done();
}

Outcome ShadowSession::Impl::enterMesh() {
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (!current) return fromError(current.error(), "reading Service " + request.service);
  if (!members(current.value()).contains(request.id)) {
    return failed("this session was removed from the mesh of Service " + request.service + " (by " +
                  remedy::cleaner(request.audience) + "); stopping");
  }
  const std::map<std::string, std::string> routed{{labels::kMeshRouter, routerName}};
  if (current.value().selector != routed) {
    // Not installed yet (this session is first, or the first one died half-way): anyone in may finish it.
    progress("Starting the mesh router for " + request.service);
    if (auto installed = installRouter(current.value()); installed.kind != OutcomeKind::Done)
      return installed;
  }
  progress("Waiting for the mesh router to be Ready");
  if (auto ready = awaitPodReady(routerName, "the mesh router"); ready.kind != OutcomeKind::Done)
    return ready;
  if (current.value().selector != routed) {
    kube::ServiceChange change;
    change.selector = routed;
    auto written = kube::changeService(*client, current.value(), change);
    if (!written)
      return fromError(written.error(), "pointing Service " + request.service + " at the mesh router");
  }
  auto ip = kube::podIP(*client, request.namespaceName, shadowName);
  if (!ip || ip.value().empty())
    return failed("the shadow pod " + shadowName + " has no IP yet", Blame::Cluster);
  shadowIp = ip.value();
  progress("Leasing the requests of " + request.service + " that match " + describeMatchers());
  return putLeases(/*renewal=*/false);
}

std::string ShadowSession::Impl::describeMatchers() const {
  std::string text;
  for (const auto& matcher : request.matchers) text += (text.empty() ? "" : " and ") + matcher.describe();
  return text;
}

Outcome ShadowSession::Impl::putLeases(bool renewal) {
  std::string lines;
  for (std::size_t i = 0; i < exposed.size(); ++i) {
    mesh::Lease lease;
    lease.id = request.id + "-" + std::to_string(targetNumbers[i]);
    lease.owner = request.owner;
    lease.matchers = request.matchers;
    lease.port = static_cast<std::uint16_t>(targetNumbers[i]);
    lease.target = {shadowIp, static_cast<std::uint16_t>(targetNumbers[i])};
    lines += mesh::encodePut(lease, timings.leaseTtl);
  }
  lastLeaseAttempt = std::chrono::steady_clock::now();
  auto replies = talkToRouter(*client, executor, request.namespaceName, routerName, timings.routerControlPort,
                              lines, exposed.size(), timings.meshControlTimeout);
  if (!replies.error.empty()) {
    const auto what = "talking to the mesh router " + routerName + ": " + replies.error;
    if (renewal) return Outcome{OutcomeKind::Retry, what + "; retrying"};
    return failed(what, Blame::Cluster);
  }
  for (const auto& line : replies.lines) {
    const auto reply = mesh::parseReply(line);
    if (!reply) return failed("the mesh router answered something unreadable: " + line, Blame::Internal);
    if (reply->kind == mesh::ControlReply::Kind::Refused) return failed(reply->message);
    if (reply->kind != mesh::ControlReply::Kind::Granted)
      return failed("the mesh router refused the lease: " + reply->message, Blame::Internal);
    if (!renewal) {
      for (const auto& warning : reply->warnings) {
        spdlog::warn("session {}: {}", request.id, warning);
        progress("Warning: " + warning);
      }
    }
  }
  lastLease = std::chrono::steady_clock::now();
  return done();
}

Outcome ShadowSession::Impl::renewMesh() {
  lastHeartbeatAttempt = std::chrono::steady_clock::now();
  if (shadowIp.empty()) {  // still starting: no lease yet, the pod's heartbeat is what counts
    auto pod = renewPodHeartbeat();
    if (pod.kind == OutcomeKind::Done) lastHeartbeat = lastPodHeartbeat = std::chrono::steady_clock::now();
    return pod;
  }
  auto leased = putLeases(/*renewal=*/true);
  if (leased.kind == OutcomeKind::Retry) leased = reinstallRouterIfGone(leased);
  // The shadow pod carries the session's heartbeat for `tether clean`, at the usual interval.
  if (std::chrono::steady_clock::now() - lastPodHeartbeat >= timings.heartbeatInterval) {
    if (auto pod = renewPodHeartbeat(); pod.kind == OutcomeKind::Done)
      lastPodHeartbeat = std::chrono::steady_clock::now();
    else if (leased.kind == OutcomeKind::Done)
      return pod;
  }
  if (leased.kind == OutcomeKind::Done) lastHeartbeat = std::chrono::steady_clock::now();
  return leased;
}

// The router pod is a plain pod: deleted, evicted or lost with its node it does not come back by itself, and
// the Service then reaches nothing. Any member that finds it gone starts it again (the others' creates then
// find it there) and puts its leases; the others' leases come back with their next renewal.
Outcome ShadowSession::Impl::reinstallRouterIfGone(const Outcome& failedRenewal) {
  auto router = kube::getPodMeta(*client, request.namespaceName, routerName);
  if (!router.is(kube::ApiReason::NotFound)) return failedRenewal;
  auto current = kube::getService(*client, request.namespaceName, request.service);
  if (!current)
    return Outcome{OutcomeKind::Retry, "reading Service " + request.service + ": " + current.error().message};
  spdlog::warn("session {}: the mesh router {} is gone; starting it again", request.id, routerName);
  progress("The mesh router " + routerName + " was gone; starting it again");
  if (auto installed = installRouter(current.value()); installed.kind != OutcomeKind::Done)
    return Outcome{OutcomeKind::Retry, installed.message};
  if (auto ready = awaitPodReady(routerName, "the mesh router"); ready.kind != OutcomeKind::Done)
    return Outcome{OutcomeKind::Retry, ready.message};
  return putLeases(/*renewal=*/true);
}

Outcome ShadowSession::Impl::leaveMesh() {
  // Dropping the leases first sends this user's requests to stable at once (expiry would take a TTL).
  if (!routerName.empty() && !exposed.empty() && trafficMoved) {
    std::string lines;
    for (std::size_t i = 0; i < exposed.size(); ++i)
      lines += mesh::encodeDrop(request.id + "-" + std::to_string(targetNumbers[i]));
    auto replies = talkToRouter(*client, executor, request.namespaceName, routerName,
                                timings.routerControlPort, lines, exposed.size(), timings.meshControlTimeout);
    if (!replies.error.empty())
      spdlog::info("session {}: leases not dropped ({}); they expire within {} ms", request.id, replies.error,
                   timings.leaseTtl.count());
  }
  if (!leftLastRouter.empty())
    return removeMeshObjects(leftLastRouter == "-" ? std::string() : leftLastRouter);
  for (int attempt = 0; attempt < kMaxMembershipConflicts; ++attempt) {
    auto current = kube::getService(*client, request.namespaceName, request.service);
    if (current.is(kube::ApiReason::NotFound)) return done();
    if (!current) return fromError(current.error(), "reading Service " + request.service);
    const auto& service = current.value();
    auto entries = members(service);
    if (!entries.contains(request.id)) return done();  // removed by `tether clean`
    entries.erase(request.id);
    kube::ServiceChange change;
    const auto router = annotation(service, labels::kMeshRouter);
    if (!entries.empty()) {
      change.annotations[labels::kMeshSessions] = membersText(entries);
    } else {
      // The last one out: the Service selects its own pods again, then router and stable go.
      const auto saved = kube::parseSelector(annotation(service, labels::kOriginalSelector));
      if (!saved || saved->empty()) {
        // The machine's restore gives up on this and says how to recover.
        return failed("Service " + request.service + " has no readable original selector; left meshed");
      }
      change.selector = *saved;
      for (const auto* key : labels::kServiceMeshAnnotations) change.annotations[key] = std::nullopt;
    }
    auto written = kube::changeService(*client, service, change);
    if (written.is(kube::ApiReason::Conflict)) continue;  // another member joined or left: read again
    if (!written) return fromError(written.error(), "leaving the mesh of Service " + request.service);
    if (entries.empty()) {
      // Remembered: if a deletion fails, the retry finds this session out of the list and must still finish.
      leftLastRouter = router.empty() ? std::string("-") : router;
      return removeMeshObjects(router);
    }
    spdlog::info("session {}: left the mesh of {}; still in it: {}", request.id, request.service,
                 describeMembers(entries));
    return done();
  }
  return Outcome{OutcomeKind::Conflict, "the Service kept changing while leaving its mesh"};
}

Outcome ShadowSession::Impl::removeMeshObjects(const std::string& router) {
  kube::DeleteOptions options;
  options.gracePeriodSeconds = 1;
  if (!router.empty()) {
    auto pod = client->removeSync(kube::resources::pods, request.namespaceName, router, options);
    if (!pod && !pod.is(kube::ApiReason::NotFound)) return fromError(pod.error(), "deleting the mesh router");
  }
  // Only a stable Service this mesh made is deleted: a user's own Service that happens to have the name
  // stays.
  const auto stableName = stableServiceName(request.service);
  auto stable = kube::getService(*client, request.namespaceName, stableName);
  if (stable.is(kube::ApiReason::NotFound)) return done();
  if (!stable) return fromError(stable.error(), "reading the stable Service " + stableName);
  if (labels::valueOf(stable.value().labels, labels::kRole) != labels::kRoleStable ||
      labels::valueOf(stable.value().labels, labels::kManagedBy) != labels::kManagedByValue ||
      (!router.empty() && labels::valueOf(stable.value().labels, labels::kSession) != router)) {
    spdlog::warn("session {}: Service {} is not a stable Service Tether made; left alone", request.id,
                 stableName);
    return done();
  }
  auto removed = client->removeSync(kube::resources::services, request.namespaceName, stableName);
  if (!removed && !removed.is(kube::ApiReason::NotFound))
    return fromError(removed.error(), "deleting the stable Service " + stableName);
  return done();
}

}  // namespace tether::session
