// Typed.hpp - typed views of the objects Tether's front ends and sessions read, so callers above the
// kube module never touch JSON. Each reader keeps the resourceVersion for later preconditions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "server/kube/Result.hpp"

namespace tether::kube {

class Client;

struct NamespaceSummary {
  std::string name;
  std::string phase;
  std::string creationTimestamp;
};

struct ServicePortSummary {
  std::string name;
  int port = 0;
  std::string targetPort;  // a number or a container port name
  std::string protocol;
  int nodePort = 0;
  std::string appProtocol;  // e.g. http, kubernetes.io/h2c (empty when not declared)
};

struct ServiceSummary {
  std::string name;
  std::string namespaceName;
  std::string type;
  std::string clusterIP;
  std::vector<ServicePortSummary> ports;
  std::map<std::string, std::string> selector;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string creationTimestamp;
  std::string resourceVersion;
  std::string externalName;
  std::string specJson;  // the whole spec as the server wrote it: "restored exactly" compares these
};

// One permission to check before changing anything (SelfSubjectAccessReview), e.g. {"patch", "", "services"}.
struct AccessCheck {
  std::string verb;
  std::string group;
  std::string resource;
  std::string subresource;
  std::string namespaceName;
  std::string name;
  std::string describe() const;  // "patch services" / "create pods/portforward"
};

struct AccessDecision {
  AccessCheck check;
  bool allowed = false;
  std::string reason;
};

// Asks the API server, for each check, whether the caller may do it (one SelfSubjectAccessReview each).
Result<std::vector<AccessDecision>> reviewAccess(Client& client, const std::vector<AccessCheck>& checks);

// The replica count of a Deployment through its /scale subresource, and setting it (merge patch).
Result<int> getDeploymentReplicas(Client& client, const std::string& namespaceName, const std::string& name);
Result<int> setDeploymentReplicas(Client& client, const std::string& namespaceName, const std::string& name,
                                  int replicas);

Result<std::vector<NamespaceSummary>> listNamespaces(Client& client);
Result<std::vector<ServiceSummary>> listServices(Client& client, const std::string& namespaceName);
Result<ServiceSummary> getService(Client& client, const std::string& namespaceName, const std::string& name);

}  // namespace tether::kube
