// Objects.cpp - the session's writes (merge patches with preconditions, creates) and its watch-based waits.
#include "server/kube/Objects.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "server/kube/Client.hpp"
#include "server/kube/TypedJson.hpp"
#include "server/kube/Watch.hpp"

namespace tether::kube {

namespace json = boost::json;
using detail::items;
using detail::malformed;
using detail::stringMap;
using detail::text;

namespace {

json::object toJson(const std::map<std::string, std::string>& map) {
  json::object object;
  for (const auto& [key, value] : map) object[key] = value;
  return object;
}

json::object toJson(const MapChange& change) {
  json::object object;
  for (const auto& [key, value] : change) {
    if (value) {
      object[key] = *value;
    } else {
      object[key] = nullptr;
    }
  }
  return object;
}

ObjectMeta toMeta(const json::value& item) {
  return ObjectMeta{text(item, {"metadata", "name"}),
                    text(item, {"metadata", "namespace"}),
                    stringMap(item, {"metadata", "labels"}),
                    stringMap(item, {"metadata", "annotations"}),
                    text(item, {"metadata", "creationTimestamp"}),
                    text(item, {"metadata", "resourceVersion"}),
                    text(item, {"metadata", "uid"})};
}

int integer(const json::value& object, std::initializer_list<const char*> path) {
  const auto value = text(object, path);
  try {
    return value.empty() ? 0 : std::stoi(value);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

Result<ServiceSummary> changeService(Client& client, const ServiceSummary& current,
                                     const ServiceChange& change) {
  json::object metadata{{"resourceVersion", current.resourceVersion}};
  if (!change.annotations.empty()) metadata["annotations"] = toJson(change.annotations);
  json::object patch{{"metadata", std::move(metadata)}};
  if (change.selector) {
    // A merge patch merges maps: keys of the old selector missing from the new one must be nulled.
    json::object selector = toJson(*change.selector);
    for (const auto& [key, value] : current.selector) {
      if (!change.selector->contains(key)) selector[key] = nullptr;
    }
    patch["spec"] = json::object{{"selector", std::move(selector)}};
  }
  auto result = client.patchSync(resources::services, current.namespaceName, current.name, PatchType::Merge,
                                 json::serialize(patch));
  if (!result) return result.error();
  auto service = detail::toService(result.value());
  if (service.namespaceName.empty()) service.namespaceName = current.namespaceName;
  return service;
}

Result<bool> changePodLabels(Client& client, const std::string& namespaceName, const std::string& name,
                             const MapChange& labels) {
  const json::object patch{{"metadata", json::object{{"labels", toJson(labels)}}}};
  auto result =
      client.patchSync(resources::pods, namespaceName, name, PatchType::Merge, json::serialize(patch));
  if (!result) return result.error();
  return true;
}

Result<bool> changePodAnnotations(Client& client, const std::string& namespaceName, const std::string& name,
                                  const MapChange& annotations) {
  const json::object patch{{"metadata", json::object{{"annotations", toJson(annotations)}}}};
  auto result =
      client.patchSync(resources::pods, namespaceName, name, PatchType::Merge, json::serialize(patch));
  if (!result) return result.error();
  return true;
}

Result<ServiceSummary> createService(Client& client, const NewService& service) {
  json::array ports;
  for (const auto& port : service.ports) {
    json::object item{{"port", port.port}, {"protocol", "TCP"}};
    if (port.targetName.empty())
      item["targetPort"] = port.targetPort;
    else
      item["targetPort"] = port.targetName;
    if (!port.name.empty()) item["name"] = port.name;
    ports.push_back(std::move(item));
  }
  const json::value object = json::object{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", json::object{{"name", service.meta.name},
                                {"namespace", service.meta.namespaceName},
                                {"labels", toJson(service.meta.labels)},
                                {"annotations", toJson(service.meta.annotations)}}},
      {"spec",
       json::object{{"type", service.type}, {"selector", toJson(service.selector)}, {"ports", ports}}}};
  auto result = client.createSync(resources::services, service.meta.namespaceName, object);
  if (!result) return result.error();
  return detail::toService(result.value());
}

Result<std::vector<ObjectMeta>> listObjects(Client& client, const ResourceType& type,
                                            const std::string& namespaceName,
                                            const std::string& labelSelector) {
  ListOptions options;
  options.labelSelector = labelSelector;
  auto result = client.listSync(type, namespaceName, options);
  if (!result) return result.error();
  const auto* list = items(result.value());
  if (list == nullptr) return malformed(resourcePath(type, namespaceName));
  std::vector<ObjectMeta> objects;
  for (const auto& item : *list) {
    auto meta = toMeta(item);
    if (meta.namespaceName.empty()) meta.namespaceName = namespaceName;
    objects.push_back(std::move(meta));
  }
  return objects;
}

Result<ObjectMeta> createPod(Client& client, const SimplePod& pod) {
  json::array env;
  for (const auto& [name, value] : pod.env) env.push_back(json::object{{"name", name}, {"value", value}});
  for (const auto& [name, ref] : pod.envFromSecret) {
    env.push_back(json::object{
        {"name", name},
        {"valueFrom",
         json::object{{"secretKeyRef", json::object{{"name", ref.first}, {"key", ref.second}}}}}});
  }
  for (const auto& [name, path] : pod.envFromField) {
    env.push_back(json::object{{"name", name},
                               {"valueFrom", json::object{{"fieldRef", json::object{{"fieldPath", path}}}}}});
  }
  json::array ports;
  for (const auto& port : pod.ports) {
    json::object entry{{"containerPort", port.port}, {"protocol", "TCP"}};
    if (!port.name.empty()) entry["name"] = port.name;
    ports.push_back(std::move(entry));
  }
  json::array args;
  for (const auto& arg : pod.args) args.push_back(json::value(arg));
  json::object container{
      {"name", "shadow"},
      {"image", pod.image},
      {"args", std::move(args)},
      {"env", std::move(env)},
      {"ports", std::move(ports)},
      {"resources",
       json::object{{"requests", json::object{{"cpu", pod.cpuRequest}, {"memory", pod.memoryRequest}}},
                    {"limits", json::object{{"cpu", pod.cpuLimit}, {"memory", pod.memoryLimit}}}}},
      {"securityContext", json::object{{"runAsNonRoot", true},
                                       {"runAsUser", pod.runAsUser},
                                       {"allowPrivilegeEscalation", false},
                                       {"readOnlyRootFilesystem", true},
                                       {"capabilities", json::object{{"drop", json::array{"ALL"}}}},
                                       {"seccompProfile", json::object{{"type", "RuntimeDefault"}}}}}};
  if (pod.readinessPort != 0) {
    container["readinessProbe"] =
        json::object{{"httpGet", json::object{{"path", "/"}, {"port", pod.readinessPort}}},
                     {"periodSeconds", 1},
                     {"failureThreshold", 3}};
  }
  json::object podSecurity{{"runAsNonRoot", true},
                           {"seccompProfile", json::object{{"type", "RuntimeDefault"}}}};
  if (const int lowest = pod.lowestPort(); lowest > 0 && lowest < 1024) {
    podSecurity["sysctls"] = json::array{
        json::object{{"name", "net.ipv4.ip_unprivileged_port_start"}, {"value", std::to_string(lowest)}}};
  }
  const json::value object =
      json::object{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", json::object{{"name", pod.name},
                                             {"namespace", pod.namespaceName},
                                             {"labels", toJson(pod.labels)},
                                             {"annotations", toJson(pod.annotations)}}},
                   {"spec", json::object{{"containers", json::array{std::move(container)}},
                                         {"securityContext", std::move(podSecurity)},
                                         {"restartPolicy", pod.restartPolicy},
                                         {"automountServiceAccountToken", false},
                                         {"terminationGracePeriodSeconds", 2}}}};
  auto result = client.createSync(resources::pods, pod.namespaceName, object);
  if (!result) return result.error();
  return toMeta(result.value());
}

Result<ObjectMeta> getPodMeta(Client& client, const std::string& namespaceName, const std::string& name) {
  auto result = client.getSync(resources::pods, namespaceName, name);
  if (!result) return result.error();
  return toMeta(result.value());
}

Result<std::string> podPhase(Client& client, const std::string& namespaceName, const std::string& name) {
  auto result = client.getSync(resources::pods, namespaceName, name);
  if (!result) return result.error();
  return text(result.value(), {"status", "phase"});
}

Result<std::string> podIP(Client& client, const std::string& namespaceName, const std::string& name) {
  auto result = client.getSync(resources::pods, namespaceName, name);
  if (!result) return result.error();
  return text(result.value(), {"status", "podIP"});
}

Result<std::vector<std::string>> podIPs(Client& client, const std::string& namespaceName) {
  auto result = client.listSync(resources::pods, namespaceName);
  if (!result) return result.error();
  std::vector<std::string> addresses;
  const auto* list = items(result.value());
  if (list == nullptr) return addresses;
  for (const auto& pod : *list) {
    auto address = text(pod, {"status", "podIP"});
    if (!address.empty()) addresses.push_back(std::move(address));
  }
  return addresses;
}

int SimplePod::lowestPort() const {
  int lowest = 0;
  for (const auto& port : ports) {
    if (port.port > 0 && (lowest == 0 || port.port < lowest)) lowest = port.port;
  }
  return lowest;
}

Result<bool> setSecretOwner(Client& client, const std::string& namespaceName, const std::string& secret,
                            const ObjectMeta& ownerPod) {
  const json::object patch{
      {"metadata", json::object{{"ownerReferences", json::array{json::object{{"apiVersion", "v1"},
                                                                             {"kind", "Pod"},
                                                                             {"name", ownerPod.name},
                                                                             {"uid", ownerPod.uid}}}}}}};
  auto result =
      client.patchSync(resources::secrets, namespaceName, secret, PatchType::Merge, json::serialize(patch));
  if (!result) return result.error();
  return true;
}

Result<ObjectMeta> createSecret(Client& client, const ObjectMeta& meta,
                                const std::map<std::string, std::string>& data) {
  const json::value object =
      json::object{{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"type", "Opaque"},
                   {"metadata", json::object{{"name", meta.name},
                                             {"namespace", meta.namespaceName},
                                             {"labels", toJson(meta.labels)},
                                             {"annotations", toJson(meta.annotations)}}},
                   {"stringData", toJson(data)}};
  auto result = client.createSync(resources::secrets, meta.namespaceName, object);
  if (!result) return result.error();
  return toMeta(result.value());
}

Result<std::map<std::string, int>> namedContainerPorts(Client& client, const std::string& namespaceName,
                                                       const std::map<std::string, std::string>& selector) {
  ListOptions options;
  options.labelSelector = selectorString(selector);
  auto result = client.listSync(resources::pods, namespaceName, options);
  if (!result) return result.error();
  std::map<std::string, int> named;
  const auto* list = items(result.value());
  if (list == nullptr) return named;
  for (const auto& pod : *list) {
    const auto* spec = pod.is_object() ? pod.get_object().if_contains("spec") : nullptr;
    const auto* containers =
        spec && spec->is_object() ? spec->get_object().if_contains("containers") : nullptr;
    if (containers == nullptr || !containers->is_array()) continue;
    for (const auto& container : containers->get_array()) {
      const auto* ports = container.is_object() ? container.get_object().if_contains("ports") : nullptr;
      if (ports == nullptr || !ports->is_array()) continue;
      for (const auto& port : ports->get_array()) {
        const auto name = text(port, {"name"});
        if (!name.empty()) named.emplace(name, integer(port, {"containerPort"}));
      }
    }
  }
  return named;
}

Result<std::vector<DeploymentSummary>> listDeployments(Client& client, const std::string& namespaceName) {
  auto result = client.listSync(resources::deployments, namespaceName);
  if (!result) return result.error();
  const auto* list = items(result.value());
  if (list == nullptr) return malformed(resourcePath(resources::deployments, namespaceName));
  std::vector<DeploymentSummary> deployments;
  for (const auto& item : *list) {
    const auto replicas = text(item, {"spec", "replicas"});
    deployments.push_back(DeploymentSummary{text(item, {"metadata", "name"}),
                                            replicas.empty() ? 1 : integer(item, {"spec", "replicas"}),
                                            integer(item, {"status", "readyReplicas"}),
                                            stringMap(item, {"spec", "template", "metadata", "labels"}),
                                            stringMap(item, {"metadata", "annotations"})});
  }
  return deployments;
}

Result<bool> changeDeploymentAnnotations(Client& client, const std::string& namespaceName,
                                         const std::string& name, const MapChange& annotations) {
  const json::object patch{{"metadata", json::object{{"annotations", toJson(annotations)}}}};
  auto result =
      client.patchSync(resources::deployments, namespaceName, name, PatchType::Merge, json::serialize(patch));
  if (!result) return result.error();
  return true;
}

Result<std::chrono::system_clock::time_point> serverTime(Client& client) {
  HttpRequest request;
  request.path = "/version";
  auto response = client.sendSync(std::move(request));
  if (!response) return response.error();
  std::tm parts{};
  std::istringstream in(response.value().date);
  in >> std::get_time(&parts, "%a, %d %b %Y %H:%M:%S");
  if (in.fail()) {
    ApiError error;
    error.message = "the API server's answer has no usable Date header (\"" + response.value().date + "\")";
    error.verb = "GET";
    error.path = "/version";
    return error;
  }
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

std::string formatTimestamp(std::chrono::system_clock::time_point time) {
  const auto seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  std::ostringstream out;
  out << std::put_time(&parts, "%Y-%m-%dT%H:%M:%SZ");
  return out.str();
}

std::optional<std::chrono::system_clock::time_point> parseTimestamp(const std::string& text) {
  std::tm parts{};
  std::istringstream in(text);
  in >> std::get_time(&parts, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

std::string selectorString(const std::map<std::string, std::string>& selector) {
  std::string text;
  for (const auto& [key, value] : selector) {
    if (!text.empty()) text += ",";
    text += key + "=" + value;
  }
  return text;
}

namespace {

// A label name or value: at most 63 characters, alphanumerics at both ends, '-', '_' and '.' between.
bool labelSegment(std::string_view text, bool mayBeEmpty) {
  if (text.empty()) return mayBeEmpty;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (text.size() > 63 || !alnum(text.front()) || !alnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [prefix/]name, the prefix a DNS subdomain of at most 253 characters.
bool labelKey(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return labelSegment(key, false);
  const auto prefix = key.substr(0, slash);
  const bool prefixOk =
      !prefix.empty() && prefix.size() <= 253 && std::all_of(prefix.begin(), prefix.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
               c == '-' || c == '.';
      });
  return prefixOk && labelSegment(key.substr(slash + 1), false);
}

}  // namespace

std::optional<std::map<std::string, std::string>> parseSelector(const std::string& text) {
  std::map<std::string, std::string> selector;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view pair = rest.substr(0, comma);
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const auto key = pair.substr(0, equals), value = pair.substr(equals + 1);
    if (!labelKey(key) || !labelSegment(value, true)) return std::nullopt;
    if (!selector.emplace(std::string(key), std::string(value)).second) return std::nullopt;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
    if (rest.empty()) return std::nullopt;  // a trailing comma
  }
  if (selector.empty()) return std::nullopt;
  return selector;
}

namespace {

// Keeps the informer alive for one wait; destroyed with the handle.
class InformerWaiter final : public Waiter {
 public:
  InformerWaiter(Client& client, const ResourceType& type, const std::string& namespaceName,
                 const std::string& name, boost::asio::any_io_executor executor)
      : informer_(client, type, namespaceName, configFor(name), std::move(executor)) {}
  Informer& informer() { return informer_; }

 private:
  static WatchConfig configFor(const std::string& name) {
    WatchConfig config;
    config.list.fieldSelector = "metadata.name=" + name;
    return config;
  }
  Informer informer_;
};

// "exited with code 1 (Error)": what a terminated container says about itself.
std::string terminated(const json::value& container) {
  const auto code = text(container, {"state", "terminated", "exitCode"});
  const auto reason = text(container, {"state", "terminated", "reason"});
  const auto message = text(container, {"state", "terminated", "message"});
  if (code.empty() && reason.empty()) return {};
  std::string what = "the container exited";
  if (!code.empty()) what += " with code " + code;
  if (!reason.empty()) what += " (" + reason + ")";
  if (!message.empty()) what += ": " + message;
  return what;
}

std::string podProblem(const json::value& pod) {
  const auto* status = pod.is_object() ? pod.get_object().if_contains("status") : nullptr;
  const auto* statuses =
      status && status->is_object() ? status->get_object().if_contains("containerStatuses") : nullptr;
  std::string exited;
  if (statuses != nullptr && statuses->is_array()) {
    for (const auto& container : statuses->get_array()) {
      const auto reason = text(container, {"state", "waiting", "reason"});
      if (reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName" ||
          reason == "CrashLoopBackOff" || reason == "CreateContainerConfigError") {
        const auto message = text(container, {"state", "waiting", "message"});
        return reason + (message.empty() ? "" : ": " + message);
      }
      if (exited.empty()) exited = terminated(container);
    }
  }
  if (text(pod, {"status", "phase"}) == "Failed") {
    // The pod's own message when it has one, else what its container said, else the bare fact.
    const auto message = text(pod, {"status", "message"});
    if (!message.empty()) return "the pod failed: " + message;
    return exited.empty() ? "the pod failed without saying why (kubectl describe pod shows its events)"
                          : exited;
  }
  return exited;
}

bool podReady(const json::value& pod) {
  const auto* status = pod.is_object() ? pod.get_object().if_contains("status") : nullptr;
  const auto* conditions =
      status && status->is_object() ? status->get_object().if_contains("conditions") : nullptr;
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const auto& condition : conditions->get_array()) {
    if (text(condition, {"type"}) == "Ready") return text(condition, {"status"}) == "True";
  }
  return false;
}

}  // namespace

std::unique_ptr<Waiter> waitPodReady(Client& client, const std::string& namespaceName,
                                     const std::string& name, std::chrono::milliseconds timeout,
                                     boost::asio::any_io_executor executor,
                                     std::function<void(Result<PodReadiness>)> done) {
  auto waiter = std::make_unique<InformerWaiter>(client, resources::pods, namespaceName, name, executor);
  waiter->informer().waitFor(
      name, [](const json::value& pod) { return podReady(pod) || !podProblem(pod).empty(); }, timeout,
      [done = std::move(done)](Result<json::value> result) {
        if (!result) return done(result.error());
        PodReadiness readiness;
        readiness.ready = podReady(result.value());
        if (!readiness.ready) readiness.problem = podProblem(result.value());
        done(readiness);
      });
  return waiter;
}

std::unique_ptr<Waiter> waitDeploymentReady(Client& client, const std::string& namespaceName,
                                            const std::string& name, int replicas,
                                            std::chrono::milliseconds timeout,
                                            boost::asio::any_io_executor executor,
                                            std::function<void(Result<int>)> done) {
  auto waiter =
      std::make_unique<InformerWaiter>(client, resources::deployments, namespaceName, name, executor);
  waiter->informer().waitFor(
      name,
      [replicas](const json::value& deployment) {
        return integer(deployment, {"status", "readyReplicas"}) >= replicas;
      },
      timeout,
      [done = std::move(done)](Result<json::value> result) {
        if (!result) return done(result.error());
        done(integer(result.value(), {"status", "readyReplicas"}));
      });
  return waiter;
}

std::unique_ptr<Waiter> watchService(Client& client, const std::string& namespaceName,
                                     const std::string& name, boost::asio::any_io_executor executor,
                                     std::function<void(const ServiceSummary&)> onChange) {
  auto waiter = std::make_unique<InformerWaiter>(client, resources::services, namespaceName, name, executor);
  waiter->informer().onChange([onChange = std::move(onChange)](const WatchEvent& event) {
    if (event.type == WatchEventType::Added || event.type == WatchEventType::Modified)
      onChange(detail::toService(event.object));
  });
  return waiter;
}

}  // namespace tether::kube
