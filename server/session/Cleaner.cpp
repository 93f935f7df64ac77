// Cleaner.cpp - stale sessions found by their Service lock and by the labels on what they created.
#include "server/session/Cleaner.hpp"

#include <set>

#include "server/kube/Client.hpp"
#include "server/kube/Objects.hpp"
#include "server/session/Labels.hpp"

namespace tether::session {

namespace {

using labels::valueOf;

std::string age(std::chrono::system_clock::time_point now, const std::string& stamp) {
  const auto when = kube::parseTimestamp(stamp);
  if (!when) return "no heartbeat";
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - *when).count();
  return "heartbeat " + std::to_string(seconds) + "s ago";
}

class Run {
 public:
  Run(kube::Client& client, const CleanOptions& options, std::chrono::system_clock::time_point now)
      : client_(client), options_(options), now_(now) {}

  bool stale(const std::string& id, const std::string& stamp, const std::string& serviceName) const {
    if (!options_.session.empty()) return id == options_.session;
    if (!options_.service.empty()) return serviceName == options_.service;
    if (options_.heldLocally && options_.heldLocally(id)) return false;
    const auto when = kube::parseTimestamp(stamp);
    return !when || now_ - *when >= options_.staleAfter;
  }

  bool createdLongAgo(const std::string& stamp) const {
    const auto when = kube::parseTimestamp(stamp);
    return !when || now_ - *when >= options_.staleAfter;
  }

  // True when the Service is restored (or would be, in a dry run): only then may what the session
  // created be deleted, or the Service would be left pointing at nothing.
  bool restore(const kube::ServiceSummary& service, CleanAction base) {
    const auto strategy = valueOf(service.annotations, labels::kStrategy);
    bool scaledBack = true;
    // Replica counts first, so the original pods are coming back before the Service points at them.
    for (const auto& [deployment, replicas] :
         kube::parseSelector(valueOf(service.annotations, labels::kOriginalReplicas))) {
      CleanAction action = base;
      action.kind = "scale";
      action.object = "deployment/" + service.namespaceName + "/" + deployment + " to " + replicas;
      if (!options_.dryRun) {
        int count = -1;
        try {
          count = std::stoi(replicas);
        } catch (const std::exception&) {
          action.error = "the annotation's replica count \"" + replicas + "\" is not a number";
        }
        if (count >= 0) {
          auto scaled = kube::setDeploymentReplicas(client_, service.namespaceName, deployment, count);
          if (!scaled) action.error = scaled.error().message;
        }
      }
      if (!action.error.empty()) scaledBack = false;
      report_.actions.push_back(std::move(action));
    }
    CleanAction action = base;
    action.kind = "restore";
    action.object = "service/" + service.namespaceName + "/" + service.name;
    if (!scaledBack) {
      // The lock keeps the replica counts; removing it now would lose them.
      action.error = "not unlocked: a Deployment could not be scaled back; run the command again";
    } else if (!options_.dryRun) {
      action.error = unlock(service, strategy != "scale");
    }
    const bool restored = action.error.empty();
    report_.actions.push_back(std::move(action));
    return restored;
  }

  // Selector back, lock annotations off, with a resourceVersion precondition (re-read on conflict).
  std::string unlock(kube::ServiceSummary service, bool restoreSelector) {
    const auto id = valueOf(service.annotations, labels::kLockedBy);
    for (int attempt = 0; attempt < 5; ++attempt) {
      kube::ServiceChange change;
      if (restoreSelector) {
        change.selector = kube::parseSelector(valueOf(service.annotations, labels::kOriginalSelector));
      }
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

  void deleteCreated(const std::string& namespaceName, const std::string& id, CleanAction base) {
    for (const auto* type : {&kube::resources::pods, &kube::resources::secrets}) {
      auto objects =
          kube::listObjects(client_, *type, namespaceName, std::string(labels::kSession) + "=" + id);
      if (!objects) {
        CleanAction action = base;
        action.kind = "delete";
        action.object = type->resource + " in " + namespaceName;
        action.error = objects.error().message;
        report_.actions.push_back(std::move(action));
        continue;
      }
      for (const auto& object : objects.value()) remove(*type, object, base);
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

}  // namespace

kube::Result<CleanReport> clean(kube::Client& client, const CleanOptions& options) {
  auto now = kube::serverTime(client);
  if (!now) return now.error();
  Run run(client, options, now.value());

  auto services = kube::listServices(client, options.namespaceName);
  if (!services) return services.error();
  std::set<std::string> locked;  // namespace/session ids that hold a Service (their pods are not orphans)
  for (const auto& service : services.value()) {
    const auto id = valueOf(service.annotations, labels::kLockedBy);
    if (id.empty()) continue;
    locked.insert(service.namespaceName + "/" + id);
    const auto heartbeat = valueOf(service.annotations, labels::kHeartbeat);
    const auto owner = valueOf(service.annotations, labels::kOwner);
    if (!options.service.empty() && service.name != options.service) continue;
    if (!run.stale(id, heartbeat, service.name)) {
      run.report().kept.push_back(id + " (" + owner + ", " + age(now.value(), heartbeat) + ") on service/" +
                                  service.namespaceName + "/" + service.name);
      continue;
    }
    CleanAction base{{}, {}, id, owner, heartbeat, {}};
    if (run.restore(service, base)) run.deleteCreated(service.namespaceName, id, base);
  }
  if (!options.service.empty()) return std::move(run.report());

  // What a session created but no Service lock refers to: a start that died between its steps.
  const auto managed = std::string(labels::kManagedBy) + "=" + labels::kManagedByValue;
  for (const auto* type : {&kube::resources::pods, &kube::resources::secrets}) {
    auto objects = kube::listObjects(client, *type, options.namespaceName, managed);
    if (!objects) return objects.error();
    for (const auto& object : objects.value()) {
      const auto id =
          object.labels.contains(labels::kSession) ? object.labels.at(labels::kSession) : std::string();
      if (id.empty() || locked.contains(object.namespaceName + "/" + id)) continue;
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
