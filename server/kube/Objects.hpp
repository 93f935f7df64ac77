// Objects.hpp - typed writes and waits for the objects a session creates and changes, so the session layer
// never builds or reads JSON. Every change of an existing object carries the resourceVersion it was based
// on: a concurrent writer turns it into ApiReason::Conflict instead of a lost update.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/kube/Resources.hpp"
#include "server/kube/Result.hpp"
#include "server/kube/Typed.hpp"

namespace tether::kube {

class Client;

// Keys mapped to a value are set, keys mapped to nullopt are removed, others are left alone.
using MapChange = std::map<std::string, std::optional<std::string>>;

struct ServiceChange {
  std::optional<std::map<std::string, std::string>> selector;  // the whole new selector
  MapChange annotations;
};

// A merge patch with `current.resourceVersion` as precondition. Returns the Service as written.
Result<ServiceSummary> changeService(Client& client, const ServiceSummary& current,
                                     const ServiceChange& change);

// Labels of a pod (merge patch, no precondition: the pod is the session's own).
Result<bool> changePodLabels(Client& client, const std::string& namespaceName, const std::string& name,
                             const MapChange& labels);

struct ObjectMeta {
  std::string name;
  std::string namespaceName;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string creationTimestamp;
  std::string resourceVersion;
  std::string uid;
};

// Annotations of a pod (merge patch, no precondition: the pod is the session's own).
Result<bool> changePodAnnotations(Client& client, const std::string& namespaceName, const std::string& name,
                                  const MapChange& annotations);

struct NewServicePort {
  std::string name;
  int port = 0;
  int targetPort = 0;
  std::string targetName;  // a named container port instead of targetPort (mesh's stable Service)
};

// A Service that selects pods by `selector`; AlreadyExists when the name is taken (never replaced).
struct NewService {
  ObjectMeta meta;
  std::string type = "ClusterIP";
  std::map<std::string, std::string> selector;
  std::vector<NewServicePort> ports;
};
Result<ServiceSummary> createService(Client& client, const NewService& service);

// Objects of `type` matching `labelSelector` in a namespace (empty: all namespaces).
Result<std::vector<ObjectMeta>> listObjects(Client& client, const ResourceType& type,
                                            const std::string& namespaceName,
                                            const std::string& labelSelector);

struct ContainerPort {
  std::string name;
  int port = 0;
};

// A one-container pod, as simple as an agent needs.
struct SimplePod {
  std::string name;
  std::string namespaceName;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string image;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::map<std::string, std::pair<std::string, std::string>> envFromSecret;  // NAME -> {secret, key}
  std::map<std::string, std::string> envFromField;  // NAME -> fieldPath (downward API: metadata.uid)
  std::vector<ContainerPort> ports;
  int readinessPort = 0;  // httpGet / on this port
  std::string cpuRequest = "10m", memoryRequest = "16Mi", cpuLimit = "500m", memoryLimit = "64Mi";
  // Pod Security "restricted" holds: non-root, no privilege escalation, every capability dropped, the
  // runtime's default seccomp profile. Binding a port below 1024 as non-root needs no capability: the pod
  // sets the namespaced, Kubernetes-"safe" sysctl net.ipv4.ip_unprivileged_port_start to the lowest port.
  int runAsUser = 65532;
  int lowestPort() const;
  // OnFailure: a crash or an OOM kill restarts the agent in place (the Service keeps its endpoint and
  // the client reconnects); its own clean exit (idle TTL) ends the pod.
  std::string restartPolicy = "OnFailure";
};

Result<ObjectMeta> createPod(Client& client, const SimplePod& pod);

// A pod's metadata (its uid tells a pod from another that took its name).
Result<ObjectMeta> getPodMeta(Client& client, const std::string& namespaceName, const std::string& name);

// A pod's status.phase (Pending, Running, Succeeded, Failed, Unknown).
Result<std::string> podPhase(Client& client, const std::string& namespaceName, const std::string& name);
// A pod's status.podIP (empty while it has none).
Result<std::string> podIP(Client& client, const std::string& namespaceName, const std::string& name);
// Every pod's status.podIP in a namespace (pods without one left out).
Result<std::vector<std::string>> podIPs(Client& client, const std::string& namespaceName);

Result<ObjectMeta> createSecret(Client& client, const ObjectMeta& meta,
                                const std::map<std::string, std::string>& data);

// Makes `owner` (a pod) the owner of a Secret, so that deleting the pod deletes the Secret (garbage
// collection). A merge patch: the Secret is the session's own.
Result<bool> setSecretOwner(Client& client, const std::string& namespaceName, const std::string& secret,
                            const ObjectMeta& ownerPod);

// The container ports of pods matching `selector` in a namespace: name -> number (for named targetPorts).
Result<std::map<std::string, int>> namedContainerPorts(Client& client, const std::string& namespaceName,
                                                       const std::map<std::string, std::string>& selector);

struct DeploymentSummary {
  std::string name;
  int replicas = 0;
  int readyReplicas = 0;
  std::map<std::string, std::string> templateLabels;
  std::map<std::string, std::string> annotations;
};

// Sets or removes annotations of a Deployment (merge patch on the object, so it takes patch rights on
// deployments, not only on their scale).
Result<bool> changeDeploymentAnnotations(Client& client, const std::string& namespaceName,
                                         const std::string& name, const MapChange& annotations);

Result<std::vector<DeploymentSummary>> listDeployments(Client& client, const std::string& namespaceName);

// The API server's clock (its Date header), for heartbeats: never the laptop's.
Result<std::chrono::system_clock::time_point> serverTime(Client& client);

// RFC 3339 in UTC with seconds ("2026-11-27T14:46:38Z") and back; parsing returns nullopt for bad text.
std::string formatTimestamp(std::chrono::system_clock::time_point time);
std::optional<std::chrono::system_clock::time_point> parseTimestamp(const std::string& text);

// "selector" maps as kubectl writes them: app=orders,tier=web.
std::string selectorString(const std::map<std::string, std::string>& selector);
// The reverse, strictly: every item is key=value with a valid label key and value (Kubernetes label syntax)
// and no key twice; empty or anything else is nullopt. Annotations can be written by anyone with patch
// rights, so what clean reads back is never trusted loosely.
std::optional<std::map<std::string, std::string>> parseSelector(const std::string& text);

// A wait that watches (list+watch, no polling) and calls `done` once, on `executor`. Dropping the handle
// cancels the wait; the handle must be dropped on `executor` or after `done` ran.
class Waiter {
 public:
  virtual ~Waiter() = default;
};

struct PodReadiness {
  bool ready = false;
  std::string problem;  // why the pod cannot become Ready (ErrImagePull, CrashLoopBackOff, Failed ...)
};

// Ready, or a problem that will not go away by waiting (an image that cannot be pulled), or Timeout.
std::unique_ptr<Waiter> waitPodReady(Client& client, const std::string& namespaceName,
                                     const std::string& name, std::chrono::milliseconds timeout,
                                     boost::asio::any_io_executor executor,
                                     std::function<void(Result<PodReadiness>)> done);

// The Deployment reports at least `replicas` ready replicas, or Timeout.
std::unique_ptr<Waiter> waitDeploymentReady(Client& client, const std::string& namespaceName,
                                            const std::string& name, int replicas,
                                            std::chrono::milliseconds timeout,
                                            boost::asio::any_io_executor executor,
                                            std::function<void(Result<int>)> done);

// Calls `onChange` (on `executor`) with the Service after every change seen by a watch, until the handle
// is dropped (on `executor`).
std::unique_ptr<Waiter> watchService(Client& client, const std::string& namespaceName,
                                     const std::string& name, boost::asio::any_io_executor executor,
                                     std::function<void(const ServiceSummary&)> onChange);

}  // namespace tether::kube
