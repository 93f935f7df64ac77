// Typed.cpp - JSON objects to typed summaries (unknown fields are ignored here; writes go through patches).
#include "server/kube/Typed.hpp"

#include <boost/json.hpp>

#include "server/kube/Client.hpp"
#include "server/kube/TypedJson.hpp"

namespace tether::kube {

namespace json = boost::json;

namespace detail {

std::string text(const json::value& object, std::initializer_list<const char*> path) {
  const json::value* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) return {};
    at = at->get_object().if_contains(key);
    if (at == nullptr) return {};
  }
  if (at->is_string()) return std::string(at->get_string());
  if (at->is_int64()) return std::to_string(at->get_int64());
  return {};
}

std::map<std::string, std::string> stringMap(const json::value& object,
                                             std::initializer_list<const char*> path) {
  std::map<std::string, std::string> result;
  const json::value* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) return result;
    at = at->get_object().if_contains(key);
    if (at == nullptr) return result;
  }
  if (!at->is_object()) return result;
  for (const auto& [key, value] : at->get_object()) {
    if (value.is_string()) result.emplace(key, value.get_string());
  }
  return result;
}

ServiceSummary toService(const json::value& item) {
  ServiceSummary service;
  service.name = text(item, {"metadata", "name"});
  service.namespaceName = text(item, {"metadata", "namespace"});
  service.creationTimestamp = text(item, {"metadata", "creationTimestamp"});
  service.resourceVersion = text(item, {"metadata", "resourceVersion"});
  service.labels = stringMap(item, {"metadata", "labels"});
  service.annotations = stringMap(item, {"metadata", "annotations"});
  service.type = text(item, {"spec", "type"});
  if (service.type.empty()) service.type = "ClusterIP";
  service.clusterIP = text(item, {"spec", "clusterIP"});
  service.externalName = text(item, {"spec", "externalName"});
  service.selector = stringMap(item, {"spec", "selector"});
  if (const auto* ports =
          item.is_object() && item.get_object().contains("spec") && item.at("spec").is_object()
              ? item.at("spec").get_object().if_contains("ports")
              : nullptr;
      ports != nullptr && ports->is_array()) {
    for (const auto& port : ports->get_array()) {
      ServicePortSummary summary;
      summary.name = text(port, {"name"});
      const auto number = text(port, {"port"});
      summary.port = number.empty() ? 0 : std::stoi(number);
      summary.targetPort = text(port, {"targetPort"});
      if (summary.targetPort.empty()) summary.targetPort = number;
      summary.protocol = text(port, {"protocol"});
      summary.appProtocol = text(port, {"appProtocol"});
      if (summary.protocol.empty()) summary.protocol = "TCP";
      const auto nodePort = text(port, {"nodePort"});
      summary.nodePort = nodePort.empty() ? 0 : std::stoi(nodePort);
      service.ports.push_back(std::move(summary));
    }
  }
  service.specJson = item.is_object() && item.get_object().contains("spec") ? json::serialize(item.at("spec"))
                                                                            : std::string();
  return service;
}

const json::array* items(const json::value& list) {
  if (!list.is_object()) return nullptr;
  const auto* found = list.get_object().if_contains("items");
  return found != nullptr && found->is_array() ? &found->get_array() : nullptr;
}

ApiError malformed(const std::string& path) {
  ApiError error;
  error.message = "the server's list has no items array";
  error.verb = "GET";
  error.path = path;
  return error;
}

}  // namespace detail

using detail::items;
using detail::malformed;
using detail::stringMap;
using detail::text;
using detail::toService;

std::string AccessCheck::describe() const {
  std::string text = verb + " " + resource;
  if (!subresource.empty()) text += "/" + subresource;
  if (!group.empty()) text += " (" + group + ")";
  return text;
}

Result<std::vector<AccessDecision>> reviewAccess(Client& client, const std::vector<AccessCheck>& checks) {
  std::vector<AccessDecision> decisions;
  for (const auto& check : checks) {
    json::object attributes{{"verb", check.verb}, {"group", check.group}, {"resource", check.resource}};
    if (!check.subresource.empty()) attributes["subresource"] = check.subresource;
    if (!check.namespaceName.empty()) attributes["namespace"] = check.namespaceName;
    if (!check.name.empty()) attributes["name"] = check.name;
    const json::value review =
        json::object{{"apiVersion", "authorization.k8s.io/v1"},
                     {"kind", "SelfSubjectAccessReview"},
                     {"spec", json::object{{"resourceAttributes", std::move(attributes)}}}};
    auto result = client.createSync(resources::selfsubjectaccessreviews, "", review);
    if (!result) return result.error();
    AccessDecision decision{check, false, {}};
    const auto& status = result.value();
    if (status.is_object() && status.get_object().contains("status") && status.at("status").is_object()) {
      const auto& fields = status.at("status").get_object();
      if (const auto* allowed = fields.if_contains("allowed"); allowed && allowed->is_bool())
        decision.allowed = allowed->get_bool();
      if (const auto* reason = fields.if_contains("reason"); reason && reason->is_string())
        decision.reason = reason->get_string();
    }
    decisions.push_back(std::move(decision));
  }
  return decisions;
}

namespace {
Result<int> replicasOf(Result<json::value> result) {
  if (!result) return result.error();
  const auto replicas = text(result.value(), {"spec", "replicas"});
  return replicas.empty() ? 0 : std::stoi(replicas);
}
}  // namespace

Result<int> getDeploymentReplicas(Client& client, const std::string& namespaceName, const std::string& name) {
  HttpRequest request;
  request.path = resourcePath(resources::deployments, namespaceName, name, "scale");
  auto response = client.sendSync(std::move(request));
  if (!response) return response.error();
  boost::system::error_code ec;
  auto value = json::parse(response.value().body, ec);
  if (ec) {
    ApiError error;
    error.message = "the Scale answer is not JSON";
    return error;
  }
  return replicasOf(std::move(value));
}

Result<int> setDeploymentReplicas(Client& client, const std::string& namespaceName, const std::string& name,
                                  int replicas) {
  return replicasOf(client.patchSync(resources::deployments, namespaceName, name, PatchType::Merge,
                                     R"({"spec":{"replicas":)" + std::to_string(replicas) + "}}", "scale"));
}

Result<std::vector<NamespaceSummary>> listNamespaces(Client& client) {
  auto result = client.listSync(resources::namespaces, "");
  if (!result) return result.error();
  const auto* list = items(result.value());
  if (list == nullptr) return malformed(resourcePath(resources::namespaces, ""));
  std::vector<NamespaceSummary> namespaces;
  for (const auto& item : *list) {
    namespaces.push_back({text(item, {"metadata", "name"}), text(item, {"status", "phase"}),
                          text(item, {"metadata", "creationTimestamp"})});
  }
  return namespaces;
}

Result<std::vector<ServiceSummary>> listServices(Client& client, const std::string& namespaceName) {
  auto result = client.listSync(resources::services, namespaceName);
  if (!result) return result.error();
  const auto* list = items(result.value());
  if (list == nullptr) return malformed(resourcePath(resources::services, namespaceName));
  std::vector<ServiceSummary> services;
  for (const auto& item : *list) {
    auto service = toService(item);
    if (service.namespaceName.empty()) service.namespaceName = namespaceName;
    services.push_back(std::move(service));
  }
  return services;
}

Result<ServiceSummary> getService(Client& client, const std::string& namespaceName, const std::string& name) {
  auto result = client.getSync(resources::services, namespaceName, name);
  if (!result) return result.error();
  return toService(result.value());
}

}  // namespace tether::kube
