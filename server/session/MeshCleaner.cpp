// MeshCleaner.cpp - dead members leave, the last one's leaving restores the Service.
#include "server/session/MeshCleaner.hpp"

#include <algorithm>
#include <map>

#include "server/kube/Client.hpp"
#include "server/kube/Objects.hpp"
#include "server/session/Labels.hpp"

namespace tether::session {

namespace {

using labels::valueOf;

std::string serviceRef(const kube::ServiceSummary& service) {
  return "service/" + service.namespaceName + "/" + service.name;
}

// Each member's heartbeat: the annotation on its shadow pod (the pods of a namespace, by session id); the
// error when the pods cannot be listed (then nobody may be judged dead).
kube::Result<std::map<std::string, std::string>> shadowHeartbeats(kube::Client& client,
                                                                  const std::string& namespaceName) {
  std::map<std::string, std::string> heartbeats;
  const auto selector = std::string(labels::kManagedBy) + "=" + labels::kManagedByValue + "," +
                        labels::kRole + "=" + labels::kRoleShadow;
  auto pods = kube::listObjects(client, kube::resources::pods, namespaceName, selector);
  if (!pods) return pods.error();
  for (const auto& pod : pods.value())
    heartbeats[valueOf(pod.labels, labels::kSession)] = valueOf(pod.annotations, labels::kHeartbeat);
  return heartbeats;
}

bool fresh(const MeshCleanContext& context, const std::string& stamp) {
  const auto when = kube::parseTimestamp(stamp);
  return when && context.now - *when < context.options.staleAfter;
}

// The router and the stable Service of a mesh, deleted only when they are what a mesh session makes.
void removeMeshObjects(MeshCleanContext& context, const kube::ServiceSummary& service,
                       const CleanAction& base) {
  const auto router = valueOf(service.annotations, labels::kMeshRouter);
  const auto report = [&](const std::string& object, const std::string& error) {
    CleanAction action = base;
    action.kind = "delete";
    action.object = object;
    action.error = error;
    context.report.actions.push_back(std::move(action));
  };
  kube::DeleteOptions options;
  options.gracePeriodSeconds = 1;
  if (!router.empty()) {
    auto pod = kube::getPodMeta(context.client, service.namespaceName, router);
    if (pod && router.rfind("tether-", 0) == 0 &&
        valueOf(pod.value().labels, labels::kRole) == labels::kRoleRouter &&
        valueOf(pod.value().labels, labels::kManagedBy) == labels::kManagedByValue &&
        valueOf(pod.value().labels, labels::kMeshRouter) == router) {
      auto removed = context.client.removeSync(kube::resources::pods, service.namespaceName, router, options);
      report("pod/" + service.namespaceName + "/" + router,
             removed || removed.is(kube::ApiReason::NotFound) ? "" : removed.error().message);
    }
  }
  const auto stableName = stableServiceName(service.name);
  auto stable = kube::getService(context.client, service.namespaceName, stableName);
  if (stable && valueOf(stable.value().labels, labels::kRole) == labels::kRoleStable &&
      valueOf(stable.value().labels, labels::kManagedBy) == labels::kManagedByValue &&
      valueOf(stable.value().labels, labels::kSession) == router) {
    auto removed = context.client.removeSync(kube::resources::services, service.namespaceName, stableName);
    report("service/" + service.namespaceName + "/" + stableName,
           removed || removed.is(kube::ApiReason::NotFound) ? "" : removed.error().message);
  }
}

}  // namespace

std::string stableServiceName(const std::string& service) {
  auto base = service.substr(0, 48);
  while (!base.empty() && base.back() == '-') base.pop_back();
  return base + "-tether-stable";
}

std::vector<std::pair<std::string, std::string>> meshMembers(const kube::ServiceSummary& service) {
  std::vector<std::pair<std::string, std::string>> members;
  const auto text = valueOf(service.annotations, labels::kMeshSessions);
  for (std::size_t start = 0; start < text.size();) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const auto entry = text.substr(start, end - start);
    const auto equals = entry.find('=');
    if (!entry.empty())
      members.emplace_back(entry.substr(0, equals),
                           equals == std::string::npos ? "" : entry.substr(equals + 1));
    start = end + 1;
  }
  return members;
}

std::set<std::string> cleanMeshes(MeshCleanContext& context,
                                  const std::vector<kube::ServiceSummary>& services) {
  const auto& options = context.options;
  std::set<std::string> seen;
  std::map<std::string, std::map<std::string, std::string>> heartbeats;  // namespace -> id -> heartbeat
  for (const auto& service : services) {
    if (valueOf(service.annotations, labels::kMode) != "mesh" ||
        valueOf(service.annotations, labels::kMeshRouter).empty())
      continue;
    if (!options.service.empty() && options.service != service.name) continue;
    const auto members = meshMembers(service);
    for (const auto& member : members) seen.insert(service.namespaceName + "/" + member.first);
    if (!options.session.empty() && std::none_of(members.begin(), members.end(),
                                                 [&](const auto& m) { return m.first == options.session; }))
      continue;
    if (!heartbeats.contains(service.namespaceName)) {
      auto listed = shadowHeartbeats(context.client, service.namespaceName);
      if (!listed) {
        context.report.actions.push_back(CleanAction{
            "leave", serviceRef(service), "", "", "",
            "cannot list the shadow pods, so no member is judged dead: " + listed.error().message});
        continue;
      }
      heartbeats[service.namespaceName] = listed.value();
    }
    const auto& beats = heartbeats[service.namespaceName];
    std::vector<std::pair<std::string, std::string>> dead, alive;
    for (const auto& member : members) {
      const auto found = beats.find(member.first);
      const auto heartbeat = found == beats.end() ? std::string() : found->second;
      bool leaves = false;
      if (!options.session.empty())
        leaves = member.first == options.session;
      else if (!options.service.empty())
        leaves = true;
      else
        leaves = !fresh(context, heartbeat) && !(options.heldLocally && options.heldLocally(member.first));
      (leaves ? dead : alive).push_back(member);
      if (!leaves && options.session.empty() && options.service.empty())
        context.report.kept.push_back(member.first + " (" + member.second + ", mesh member) on " +
                                      serviceRef(service));
    }
    if (dead.empty() && !members.empty()) continue;
    kube::ServiceChange change;
    std::string refusal;
    if (!alive.empty()) {
      std::string text;
      for (const auto& [id, owner] : alive) text += (text.empty() ? "" : ",") + id + "=" + owner;
      change.annotations[labels::kMeshSessions] = text;
    } else {
      const auto saved = kube::parseSelector(valueOf(service.annotations, labels::kOriginalSelector));
      if (!saved || saved->empty()) {
        refusal = "the saved selector (" + std::string(labels::kOriginalSelector) +
                  ") does not parse; the Service was left meshed: set its selector by hand";
      } else {
        change.selector = *saved;
        for (const auto* key : labels::kServiceMeshAnnotations) change.annotations[key] = std::nullopt;
      }
    }
    std::string error = refusal;
    if (error.empty() && !options.dryRun) {
      auto written = kube::changeService(context.client, service, change);
      if (written.is(kube::ApiReason::Conflict))
        error = "the Service changed meanwhile; run the command again";
      else if (!written)
        error = written.error().message;
    }
    for (const auto& [id, owner] : dead) {
      CleanAction action{"leave", serviceRef(service), id, owner, "", error};
      context.report.actions.push_back(action);
      if (error.empty())
        context.deleteCreated(service.namespaceName, id, CleanAction{{}, {}, id, owner, {}, {}});
    }
    if (!alive.empty()) continue;
    CleanAction restored{"restore",
                         serviceRef(service),
                         dead.empty() ? "" : dead.front().first,
                         dead.empty() ? "" : dead.front().second,
                         "",
                         error};
    context.report.actions.push_back(restored);
    if (error.empty() && !options.dryRun)
      removeMeshObjects(context, service, CleanAction{{}, {}, restored.session, restored.owner, {}, {}});
  }
  return seen;
}

}  // namespace tether::session
