// Cleaner.cpp - stale sessions found by their Service locks and by the labels on what they created, undone
// only where the cluster's own state agrees with what the annotations claim.
//
// Anyone who may patch a Service can write tether.dev/* annotations on it, so nothing here trusts them
// loosely: a restore happens only when the annotations agree with each other and with the cluster
// (strategy scale with Deployments whose pods the saved selector selects, counts within a bound, a saved
// selector that parses); deletions touch only objects labelled as Tether's, with the role Tether gave them;
// and a session that still renews a heartbeat on any Service is alive, whatever another Service claims.
#include "server/session/Cleaner.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "server/kube/Client.hpp"
#include "server/kube/Objects.hpp"
#include "server/session/Labels.hpp"
#include "server/session/MeshCleaner.hpp"

namespace tether::session {

namespace {

using labels::valueOf;

// More replicas than a Deployment this tool scaled down is believed to have had.
constexpr int kMaxRestoredReplicas = 1000;

std::string age(std::chrono::system_clock::time_point now, const std::string& stamp) {
  const auto when = kube::parseTimestamp(stamp);
  if (!when) return "no heartbeat";
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - *when).count();
  return "heartbeat " + std::to_string(seconds) + "s ago";
}

// Whether an object is named as a session creates it: the shadow pod `tether-<service>-<id>`, its token
// Secret `tether-<service>-<id>-token`. Labels can be added to anyone's object by whoever may patch it, so
// labels alone do not make an object Tether's to delete.
bool namedBySession(const kube::ObjectMeta& object, const std::string& id, const char* role) {
  const std::string suffix = "-" + id + (std::string_view(role) == labels::kRoleToken ? "-token" : "");
  const auto& name = object.name;
  return name.rfind("tether-", 0) == 0 && name.size() > suffix.size() + 7 &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string serviceRef(const kube::ServiceSummary& service) {
  return "service/" + service.namespaceName + "/" + service.name;
}

// What a Service's lock annotations say was changed, once they were checked against each other.
struct RestorePlan {
  std::string refusal;  // non-empty: the annotations cannot be trusted, change nothing
  bool restoreSelector = false;
  std::map<std::string, std::string> selector;        // the saved selector
  std::vector<std::pair<std::string, int>> replicas;  // Deployments to scale back (strategy scale)
};

class Run {
 public:
  Run(kube::Client& client, const CleanOptions& options, std::chrono::system_clock::time_point now)
      : client_(client), options_(options), now_(now) {}

  bool fresh(const std::string& stamp) const {
    const auto when = kube::parseTimestamp(stamp);
    return when && now_ - *when < options_.staleAfter;
  }

  bool createdLongAgo(const std::string& stamp) const {
    const auto when = kube::parseTimestamp(stamp);
    return !when || now_ - *when >= options_.staleAfter;
  }

  RestorePlan plan(const kube::ServiceSummary& service) {
    RestorePlan plan;
    const auto sessionId = valueOf(service.annotations, labels::kLockedBy);
    const auto strategy = valueOf(service.annotations, labels::kStrategy);
    const auto saved = valueOf(service.annotations, labels::kOriginalSelector);
    const auto replicas = valueOf(service.annotations, labels::kOriginalReplicas);
    const auto selector = kube::parseSelector(saved);
    const std::string byHand =
        "; nothing was changed. Check the Service and remove the tether.dev/* annotations by hand";
    if (!selector) {
      plan.refusal = "refused: the saved selector (" + std::string(labels::kOriginalSelector) + "=\"" +
                     saved + "\") is missing or not a selector" + byHand;
      return plan;
    }
    plan.selector = *selector;
    if (strategy == "selector") {
      if (!replicas.empty()) {
        plan.refusal = "refused: strategy selector does not scale Deployments, yet " +
                       std::string(labels::kOriginalReplicas) + " names some" + byHand;
        return plan;
      }
      plan.restoreSelector = true;
      return plan;
    }
    if (strategy != "scale") {
      plan.refusal = "refused: unknown strategy \"" + strategy + "\"" + byHand;
      return plan;
    }
    if (plan.selector != service.selector) {
      // Strategy scale never changes the selector, so the saved one must be the Service's own.
      plan.refusal = "refused: strategy scale, yet the saved selector " + saved + " is not the Service's (" +
                     kube::selectorString(service.selector) + ")" + byHand;
      return plan;
    }
    const auto counts = kube::parseSelector(replicas);
    if (!counts) {
      plan.refusal = "refused: strategy scale without readable " + std::string(labels::kOriginalReplicas) +
                     " (\"" + replicas + "\")" + byHand;
      return plan;
    }
    auto deployments = kube::listDeployments(client_, service.namespaceName);
    if (!deployments) {
      plan.refusal = "could not list Deployments: " + deployments.error().message;
      return plan;
    }
    for (const auto& entry : *counts) {
      // Named copies: clang 14 (the fuzz preset) cannot capture structured bindings in a lambda.
      const std::string& name = entry.first;
      const std::string& text = entry.second;
      const bool digits = !text.empty() && text.size() <= 4 &&
                          std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
      const int count = digits ? std::stoi(text) : -1;
      if (count < 0 || count > kMaxRestoredReplicas) {
        plan.refusal = "refused: " + std::string(labels::kOriginalReplicas) + " asks for " + text +
                       " replicas of Deployment " + name + " (at most " +
                       std::to_string(kMaxRestoredReplicas) + " are restored)" + byHand;
        return plan;
      }
      const auto found = std::find_if(deployments.value().begin(), deployments.value().end(),
                                      [&](const kube::DeploymentSummary& d) { return d.name == name; });
      if (found == deployments.value().end()) {
        plan.refusal = "refused: Deployment " + name + " does not exist" + byHand;
        return plan;
      }
      const bool selects = std::all_of(plan.selector.begin(), plan.selector.end(), [&](const auto& pair) {
        const auto label = found->templateLabels.find(pair.first);
        return label != found->templateLabels.end() && label->second == pair.second;
      });
      if (!selects) {
        plan.refusal = "refused: Deployment " + name + " does not run the pods of the saved selector " +
                       saved + ", so the session did not scale it" + byHand;
        return plan;
      }
      // What only someone who may patch the Deployment could write: the session that scaled it, and from
      // what. A Service's annotations alone never scale anything.
      const auto scaledBy = valueOf(found->annotations, labels::kScaledBy);
      const auto recorded = valueOf(found->annotations, labels::kOriginalReplicas);
      if (scaledBy != sessionId || recorded != text) {
        plan.refusal = "refused: Deployment " + name + " carries no record that session " + sessionId +
                       " scaled it from " + text + " replicas (" + std::string(labels::kScaledBy) + "=\"" +
                       scaledBy + "\", " + std::string(labels::kOriginalReplicas) + "=\"" + recorded + "\")" +
                       byHand;
        return plan;
      }
      plan.replicas.emplace_back(name, count);
    }
    return plan;
  }

  // True when the Service is restored (or would be, in a dry run).
  bool restore(const kube::ServiceSummary& service, CleanAction base) {
    const auto restorePlan = plan(service);
    if (!restorePlan.refusal.empty()) {
      CleanAction refused = base;
      refused.kind = "restore";
      refused.object = serviceRef(service);
      refused.error = restorePlan.refusal;
      report_.actions.push_back(std::move(refused));
      return false;
    }
    bool scaledBack = true;
    // Replica counts first, so the original pods are coming back before the Service points at them.
    for (const auto& [deployment, replicas] : restorePlan.replicas) {
      CleanAction action = base;
      action.kind = "scale";
      action.object =
          "deployment/" + service.namespaceName + "/" + deployment + " to " + std::to_string(replicas);
      if (!options_.dryRun) {
        auto scaled = kube::setDeploymentReplicas(client_, service.namespaceName, deployment, replicas);
        if (!scaled) action.error = scaled.error().message;
        if (scaled) {
          auto unmarked = kube::changeDeploymentAnnotations(
              client_, service.namespaceName, deployment,
              {{labels::kScaledBy, std::nullopt}, {labels::kOriginalReplicas, std::nullopt}});
          if (!unmarked) action.error = unmarked.error().message;
        }
      }
      if (!action.error.empty()) scaledBack = false;
      report_.actions.push_back(std::move(action));
    }
    CleanAction action = base;
    action.kind = "restore";
    action.object = serviceRef(service);
    if (!scaledBack) {
      // The lock keeps the replica counts; removing it now would lose them.
      action.error = "not unlocked: a Deployment could not be scaled back; run the command again";
    } else if (!options_.dryRun) {
      action.error = unlock(service, restorePlan);
    }
    const bool restored = action.error.empty();
    report_.actions.push_back(std::move(action));
    return restored;
  }

  // Selector back, lock annotations off, with a resourceVersion precondition (re-read on conflict).
  std::string unlock(kube::ServiceSummary service, const RestorePlan& restorePlan) {
    const auto id = valueOf(service.annotations, labels::kLockedBy);
    for (int attempt = 0; attempt < 5; ++attempt) {
      kube::ServiceChange change;
      if (restorePlan.restoreSelector) change.selector = restorePlan.selector;
      for (const auto* key : labels::kServiceLockAnnotations) change.annotations[key] = std::nullopt;
      auto written = kube::changeService(client_, service, change);
      if (written) return {};
      if (!written.is(kube::ApiReason::Conflict)) return written.error().message;
      auto again = kube::getService(client_, service.namespaceName, service.name);
      if (!again) return again.error().message;
      const auto judged = valueOf(service.annotations, labels::kHeartbeat);
      service = again.value();
      if (valueOf(service.annotations, labels::kLockedBy) != id) return {};  // someone else restored it
      if (options_.session.empty() && options_.service.empty() &&
          valueOf(service.annotations, labels::kHeartbeat) != judged) {
        return "left alone: the session renewed its heartbeat meanwhile, so it is alive";
      }
    }
    return "the Service kept changing; run the command again";
  }

  // What a session created: pods in the shadow role and Secrets in the token role, labelled as Tether's.
  static std::string createdBy(const std::string& id, const char* role) {
    return std::string(labels::kSession) + "=" + id + "," + labels::kManagedBy + "=" +
           labels::kManagedByValue + "," + labels::kRole + "=" + role;
  }

  void deleteCreated(const std::string& namespaceName, const std::string& id, const CleanAction& base) {
    const std::pair<const kube::ResourceType*, const char*> created[] = {
        {&kube::resources::pods, labels::kRoleShadow}, {&kube::resources::secrets, labels::kRoleToken}};
    for (const auto& [type, role] : created) {
      auto objects = kube::listObjects(client_, *type, namespaceName, createdBy(id, role));
      if (!objects) {
        CleanAction action = base;
        action.kind = "delete";
        action.object = type->resource + " in " + namespaceName;
        action.error = objects.error().message;
        report_.actions.push_back(std::move(action));
        continue;
      }
      for (const auto& object : objects.value()) {
        if (namedBySession(object, id, role)) remove(*type, object, base);
      }
    }
  }

  void remove(const kube::ResourceType& type, const kube::ObjectMeta& object, CleanAction base) {
    CleanAction action = std::move(base);
    action.kind = "delete";
    action.object =
        type.resource.substr(0, type.resource.size() - 1) + "/" + object.namespaceName + "/" + object.name;
    if (!options_.dryRun) {
      kube::DeleteOptions deleteOptions;
      deleteOptions.gracePeriodSeconds = 1;
      auto removed = client_.removeSync(type, object.namespaceName, object.name, deleteOptions);
      if (!removed && !removed.is(kube::ApiReason::NotFound)) action.error = removed.error().message;
    }
    report_.actions.push_back(std::move(action));
  }

  CleanReport& report() { return report_; }

 private:
  kube::Client& client_;
  const CleanOptions& options_;
  std::chrono::system_clock::time_point now_;
  CleanReport report_;
};

// A Service `tether preview` created: labelled as Tether's in the preview role, with its session's id.
// Labels can be put on anyone's Service by whoever may patch it, so a Service is taken for a preview's only
// when its selector is also exactly what a preview writes: the session's own pods and nothing else.
std::string previewSession(const kube::ServiceSummary& service) {
  const auto id = valueOf(service.labels, labels::kSession);
  if (id.empty() || valueOf(service.labels, labels::kManagedBy) != labels::kManagedByValue ||
      valueOf(service.labels, labels::kRole) != labels::kRolePreview ||
      valueOf(service.annotations, labels::kMode) != "preview" ||
      service.selector != std::map<std::string, std::string>{{labels::kSession, id}}) {
    return {};
  }
  return id;
}

// Previews whose heartbeat (on their own Service) stopped: the Service is deleted, then what the session
// created. Returns the namespace/id of every preview session seen, so their pods are not taken for orphans.
std::set<std::string> cleanPreviews(Run& run, const std::vector<kube::ServiceSummary>& services,
                                    const CleanOptions& options, std::chrono::system_clock::time_point now) {
  std::set<std::string> seen;
  for (const auto& service : services) {
    const auto id = previewSession(service);
    if (id.empty()) continue;
    seen.insert(service.namespaceName + "/" + id);
    const auto heartbeat = valueOf(service.annotations, labels::kHeartbeat);
    const auto owner = valueOf(service.annotations, labels::kOwner);
    bool chosen = false;
    if (!options.session.empty()) {
      chosen = options.session == id;
    } else if (!options.service.empty()) {
      chosen = options.service == service.name;
    } else {
      const bool local = options.heldLocally && options.heldLocally(id);
      if (run.fresh(heartbeat) || local) {
        run.report().kept.push_back(id + " (" + owner + ", " + age(now, heartbeat) +
                                    (local ? ", held by a live backend on this machine" : "") + ") on " +
                                    serviceRef(service));
        continue;
      }
      chosen = true;
    }
    if (!chosen) continue;
    kube::ObjectMeta meta;
    meta.name = service.name;
    meta.namespaceName = service.namespaceName;
    const CleanAction base{{}, {}, id, owner, heartbeat, {}};
    run.remove(kube::resources::services, meta, base);
    run.deleteCreated(service.namespaceName, id, base);
  }
  return seen;
}

}  // namespace

kube::Result<CleanReport> clean(kube::Client& client, const CleanOptions& options) {
  auto now = kube::serverTime(client);
  if (!now) return now.error();
  Run run(client, options, now.value());

  auto services = kube::listServices(client, options.namespaceName);
  if (!services) return services.error();
  // Every lock, by namespace/session id: a session is as alive as the freshest heartbeat it renews.
  std::map<std::string, std::vector<kube::ServiceSummary>> locks;
  for (const auto& service : services.value()) {
    const auto id = valueOf(service.annotations, labels::kLockedBy);
    if (!id.empty()) locks[service.namespaceName + "/" + id].push_back(service);
  }
  for (const auto& [key, held] : locks) {
    const auto id = valueOf(held.front().annotations, labels::kLockedBy);
    const auto namespaceName = held.front().namespaceName;
    std::vector<const kube::ServiceSummary*> chosen;
    if (!options.session.empty()) {
      if (id != options.session) continue;
      for (const auto& service : held) chosen.push_back(&service);
    } else if (!options.service.empty()) {
      for (const auto& service : held) {
        if (service.name == options.service) chosen.push_back(&service);
      }
      if (chosen.empty()) continue;
    } else {
      const auto live = std::find_if(held.begin(), held.end(), [&](const kube::ServiceSummary& service) {
        return run.fresh(valueOf(service.annotations, labels::kHeartbeat));
      });
      const bool local = options.heldLocally && options.heldLocally(id);
      if (live != held.end() || local) {
        for (const auto& service : held) {
          const auto heartbeat = valueOf(service.annotations, labels::kHeartbeat);
          std::string why = live != held.end() && &*live != &service ? ", alive on " + serviceRef(*live)
                            : local ? ", held by a live backend on this machine"
                                    : "";
          run.report().kept.push_back(id + " (" + valueOf(service.annotations, labels::kOwner) + ", " +
                                      age(now.value(), heartbeat) + why + ") on " + serviceRef(service));
        }
        continue;
      }
      for (const auto& service : held) chosen.push_back(&service);
    }
    std::size_t restored = 0;
    for (const auto* service : chosen) {
      CleanAction base{{},
                       {},
                       id,
                       valueOf(service->annotations, labels::kOwner),
                       valueOf(service->annotations, labels::kHeartbeat),
                       {}};
      if (run.restore(*service, base)) ++restored;
    }
    // What the session created serves every Service it holds: it goes only when none is left pointing at it.
    if (restored == held.size()) {
      run.deleteCreated(namespaceName, id,
                        CleanAction{{}, {}, id, valueOf(held.front().annotations, labels::kOwner), {}, {}});
    }
  }
  MeshCleanContext meshes{client, options, now.value(), run.report(),
                          [&run](const std::string& namespaceName, const std::string& id,
                                 const CleanAction& base) { run.deleteCreated(namespaceName, id, base); }};
  const auto meshMembers = cleanMeshes(meshes, services.value());
  const auto previews = cleanPreviews(run, services.value(), options, now.value());
  if (!options.service.empty()) return std::move(run.report());

  // What a session created but no Service lock refers to: a start that died between its steps, or a
  // session that holds no Service (connect, forward), alive while the heartbeat on its shadow pod is fresh.
  std::set<std::string> alive;
  const std::pair<const kube::ResourceType*, const char*> created[] = {
      {&kube::resources::pods, labels::kRoleShadow}, {&kube::resources::secrets, labels::kRoleToken}};
  for (const auto& [type, role] : created) {
    const auto selector =
        std::string(labels::kManagedBy) + "=" + labels::kManagedByValue + "," + labels::kRole + "=" + role;
    auto objects = kube::listObjects(client, *type, options.namespaceName, selector);
    if (!objects) return objects.error();
    for (const auto& object : objects.value()) {
      const auto id = valueOf(object.labels, labels::kSession);
      const auto key = object.namespaceName + "/" + id;
      if (id.empty() || locks.contains(key) || previews.contains(key) || meshMembers.contains(key) ||
          !namedBySession(object, id, role)) {
        continue;
      }
      const auto heartbeat = valueOf(object.annotations, labels::kHeartbeat);
      if (options.session != id && (alive.contains(key) || run.fresh(heartbeat))) {
        if (alive.insert(key).second) {
          run.report().kept.push_back(id + " (" + valueOf(object.annotations, labels::kOwner) + ", " +
                                      age(now.value(), heartbeat) + ") on pod/" + object.namespaceName + "/" +
                                      object.name);
        }
        continue;
      }
      const bool asked = !options.session.empty() && options.session == id;
      const bool orphan = options.session.empty() && !(options.heldLocally && options.heldLocally(id)) &&
                          run.createdLongAgo(object.creationTimestamp);
      if (!asked && !orphan) continue;
      run.remove(*type, object, CleanAction{{}, {}, id, valueOf(object.annotations, labels::kOwner), {}, {}});
    }
  }
  return std::move(run.report());
}

}  // namespace tether::session
