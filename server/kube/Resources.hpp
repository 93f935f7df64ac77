// Resources.hpp - the API resources Tether uses, and how their URLs are built.
#pragma once

#include <string>

namespace tether::kube {

struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural: "pods"
  bool namespaced = true;
  std::string kind;  // "Pod"
};

namespace resources {
inline const ResourceType namespaces{"", "v1", "namespaces", false, "Namespace"};
inline const ResourceType pods{"", "v1", "pods", true, "Pod"};
inline const ResourceType services{"", "v1", "services", true, "Service"};
inline const ResourceType endpoints{"", "v1", "endpoints", true, "Endpoints"};
inline const ResourceType configmaps{"", "v1", "configmaps", true, "ConfigMap"};
inline const ResourceType secrets{"", "v1", "secrets", true, "Secret"};
inline const ResourceType serviceaccounts{"", "v1", "serviceaccounts", true, "ServiceAccount"};
inline const ResourceType deployments{"apps", "v1", "deployments", true, "Deployment"};
inline const ResourceType replicasets{"apps", "v1", "replicasets", true, "ReplicaSet"};
inline const ResourceType roles{"rbac.authorization.k8s.io", "v1", "roles", true, "Role"};
inline const ResourceType rolebindings{"rbac.authorization.k8s.io", "v1", "rolebindings", true,
                                       "RoleBinding"};
inline const ResourceType selfsubjectaccessreviews{"authorization.k8s.io", "v1", "selfsubjectaccessreviews",
                                                   false, "SelfSubjectAccessReview"};
}  // namespace resources

// "/api/v1/namespaces/ns/pods/name/sub" (each part optional); names are URL-escaped.
std::string resourcePath(const ResourceType& type, const std::string& namespaceName,
                         const std::string& name = {}, const std::string& subresource = {});
std::string urlEscape(const std::string& text);

}  // namespace tether::kube
