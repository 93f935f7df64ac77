// Kubeconfig.cpp - reading, merging and resolving kubeconfig files.
#include "server/kube/Kubeconfig.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/text/Base64.hpp"

namespace tether::kube {

namespace fs = std::filesystem;

namespace {

// Where a field sits, for messages: `~/.kube/config: user "alice": client-key-data ...`.
struct Place {
  std::string file;  // display path
  std::string what;  // `user "alice"`
  std::string describe() const { return file + ": " + what; }
};

[[noreturn]] void fail(const Place& place, const std::string& message) {
  throw ConfigError(place.describe() + ": " + message);
}

std::string expandHome(const std::string& path, const std::string& home) {
  if (path == "~") return home;
  if (path.rfind("~/", 0) == 0) return home + path.substr(1);
  return path;
}

// Relative paths in a kubeconfig are relative to the directory of the file that names them.
std::string resolvePath(const std::string& value, const std::string& file, const std::string& home) {
  if (value.empty()) return value;
  const auto expanded = expandHome(value, home);
  const fs::path path(expanded);
  if (path.is_absolute()) return expanded;
  return (fs::path(file).parent_path() / path).lexically_normal().string();
}

std::string scalar(const YAML::Node& node, const char* key, const Place& place) {
  const auto value = node[key];
  if (!value || value.IsNull()) return {};
  if (!value.IsScalar()) fail(place, std::string(key) + ": expected a string");
  return value.as<std::string>();
}

bool boolean(const YAML::Node& node, const char* key, const Place& place) {
  const auto value = node[key];
  if (!value || value.IsNull()) return false;
  if (!value.IsScalar()) fail(place, std::string(key) + ": expected true or false");
  const auto text = value.as<std::string>();
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  fail(place, std::string(key) + ": expected true or false, got \"" + text + "\"");
}

std::string decoded(const YAML::Node& node, const char* key, const Place& place) {
  const auto text = scalar(node, key, place);
  if (text.empty()) return {};
  auto bytes = support::decodeBase64(text);
  if (!bytes) fail(place, std::string(key) + " is not valid base64");
  return *bytes;
}

// Converts a YAML subtree to JSON text (for the exec extension's cluster config).
void toJson(const YAML::Node& node, std::ostringstream& out) {
  if (node.IsMap()) {
    out << '{';
    bool first = true;
    for (const auto& item : node) {
      if (!first) out << ',';
      first = false;
      toJson(item.first, out);
      out << ':';
      toJson(item.second, out);
    }
    out << '}';
  } else if (node.IsSequence()) {
    out << '[';
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (i > 0) out << ',';
      toJson(node[i], out);
    }
    out << ']';
  } else if (node.IsNull()) {
    out << "null";
  } else {
    out << '"';
    for (char c : node.as<std::string>()) {
      if (c == '"' || c == '\\')
        out << '\\' << c;
      else if (static_cast<unsigned char>(c) < 0x20)
        out << "\\u00"
            << "0123456789abcdef"[(c >> 4) & 0xF] << "0123456789abcdef"[c & 0xF];
      else
        out << c;
    }
    out << '"';
  }
}

// Each kubeconfig list is `- name: X` + `cluster:`/`user:`/`context:` with the fields.
template <typename Visit>
void forEachNamed(const YAML::Node& root, const char* list, const char* inner, const std::string& file,
                  Visit visit) {
  const auto items = root[list];
  if (!items || items.IsNull()) return;
  if (!items.IsSequence()) throw ConfigError(file + ": " + list + ": expected a list");
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto item = items[i];
    const Place at{file, std::string(list) + "[" + std::to_string(i) + "]"};
    if (!item.IsMap()) fail(at, "expected a map with name and " + std::string(inner));
    const auto name = scalar(item, "name", at);
    if (name.empty()) fail(at, "name is missing");
    const auto body = item[inner];
    if (body && !body.IsNull() && !body.IsMap()) fail(at, std::string(inner) + ": expected a map");
    visit(name, body ? body : YAML::Node(YAML::NodeType::Map));
  }
}

ExecConfig readExec(const YAML::Node& node, const Place& place) {
  ExecConfig exec;
  exec.apiVersion = scalar(node, "apiVersion", place);
  exec.command = scalar(node, "command", place);
  exec.installHint = scalar(node, "installHint", place);
  exec.provideClusterInfo = boolean(node, "provideClusterInfo", place);
  exec.interactiveMode = scalar(node, "interactiveMode", place);
  if (const auto args = node["args"]; args && !args.IsNull()) {
    if (!args.IsSequence()) fail(place, "exec.args: expected a list");
    for (const auto& arg : args) exec.args.push_back(arg.as<std::string>());
  }
  if (const auto env = node["env"]; env && !env.IsNull()) {
    if (!env.IsSequence()) fail(place, "exec.env: expected a list of {name, value}");
    for (const auto& entry : env) {
      if (!entry.IsMap()) fail(place, "exec.env: expected a list of {name, value}");
      exec.env.emplace_back(scalar(entry, "name", place), scalar(entry, "value", place));
    }
  }
  if (exec.command.empty()) fail(place, "exec.command is missing");
  if (exec.apiVersion != "client.authentication.k8s.io/v1" &&
      exec.apiVersion != "client.authentication.k8s.io/v1beta1") {
    fail(place, "exec.apiVersion \"" + exec.apiVersion +
                    "\" is not supported; use client.authentication.k8s.io/v1 or "
                    "client.authentication.k8s.io/v1beta1");
  }
  if (exec.apiVersion == "client.authentication.k8s.io/v1" && exec.interactiveMode.empty()) {
    fail(place,
         "exec.interactiveMode must be set for client.authentication.k8s.io/v1 (Never, IfAvailable or "
         "Always)");
  }
  if (!exec.interactiveMode.empty() && exec.interactiveMode != "Never" &&
      exec.interactiveMode != "IfAvailable" && exec.interactiveMode != "Always") {
    fail(place, "exec.interactiveMode \"" + exec.interactiveMode + "\" is not Never, IfAvailable or Always");
  }
  return exec;
}

}  // namespace

std::string displayPath(const std::string& path, const std::string& home) {
  if (!home.empty() && path.rfind(home + "/", 0) == 0) return "~" + path.substr(home.size());
  return path;
}

ConfigEnvironment ConfigEnvironment::fromProcess() {
  ConfigEnvironment environment;
  if (const char* value = std::getenv("KUBECONFIG"); value != nullptr) environment.kubeconfigVariable = value;
  if (const char* home = std::getenv("HOME"); home != nullptr) environment.home = home;
  return environment;
}

Kubeconfig parseKubeconfig(const std::string& text, const std::string& path, const std::string& home) {
  const auto shown = displayPath(path, home);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    throw ConfigError(shown + ":" + std::to_string(error.mark.line + 1) + ":" +
                      std::to_string(error.mark.column + 1) + ": not valid YAML: " + error.msg);
  }
  Kubeconfig config;
  config.files.push_back(path);
  if (!root || root.IsNull()) return config;  // an empty file is allowed, as kubectl allows it
  if (!root.IsMap())
    throw ConfigError(shown + ": expected a kubeconfig (a YAML map with clusters, users, contexts)");
  try {
    const Place top{shown, "kubeconfig"};
    config.currentContext = scalar(root, "current-context", top);
    forEachNamed(root, "clusters", "cluster", shown, [&](const std::string& name, const YAML::Node& body) {
      const Place at{shown, "cluster \"" + name + "\""};
      ClusterConfig cluster;
      cluster.name = name;
      cluster.sourceFile = path;
      cluster.server = scalar(body, "server", at);
      cluster.certificateAuthorityFile = resolvePath(scalar(body, "certificate-authority", at), path, home);
      cluster.certificateAuthorityData = decoded(body, "certificate-authority-data", at);
      cluster.insecureSkipTlsVerify = boolean(body, "insecure-skip-tls-verify", at);
      cluster.tlsServerName = scalar(body, "tls-server-name", at);
      cluster.proxyUrl = scalar(body, "proxy-url", at);
      if (const auto extensions = body["extensions"]; extensions && extensions.IsSequence()) {
        for (const auto& extension : extensions) {
          if (extension.IsMap() && extension["name"] &&
              extension["name"].as<std::string>() == "client.authentication.k8s.io/exec") {
            std::ostringstream json;
            toJson(extension["extension"], json);
            cluster.execExtensionJson = json.str();
          }
        }
      }
      config.clusters.emplace(name, std::move(cluster));
    });
    forEachNamed(root, "users", "user", shown, [&](const std::string& name, const YAML::Node& body) {
      const Place at{shown, "user \"" + name + "\""};
      UserConfig user;
      user.name = name;
      user.sourceFile = path;
      user.clientCertificateFile = resolvePath(scalar(body, "client-certificate", at), path, home);
      user.clientCertificateData = decoded(body, "client-certificate-data", at);
      user.clientKeyFile = resolvePath(scalar(body, "client-key", at), path, home);
      user.clientKeyData = decoded(body, "client-key-data", at);
      user.token = scalar(body, "token", at);
      user.tokenFile = resolvePath(scalar(body, "tokenFile", at), path, home);
      user.username = scalar(body, "username", at);
      user.password = scalar(body, "password", at);
      if (const auto exec = body["exec"]; exec && !exec.IsNull()) {
        if (!exec.IsMap()) fail(at, "exec: expected a map");
        user.exec = readExec(exec, at);
      }
      if (const auto provider = body["auth-provider"]; provider && !provider.IsNull()) {
        user.authProvider = provider.IsMap() ? scalar(provider, "name", at) : std::string("?");
      }
      config.users.emplace(name, std::move(user));
    });
    forEachNamed(root, "contexts", "context", shown, [&](const std::string& name, const YAML::Node& body) {
      const Place at{shown, "context \"" + name + "\""};
      ContextConfig context;
      context.name = name;
      context.sourceFile = path;
      context.cluster = scalar(body, "cluster", at);
      context.user = scalar(body, "user", at);
      context.namespaceName = scalar(body, "namespace", at);
      config.contexts.emplace(name, std::move(context));
    });
  } catch (const YAML::Exception& error) {
    throw ConfigError(shown + ":" + std::to_string(error.mark.line + 1) + ":" +
                      std::to_string(error.mark.column + 1) + ": " + error.msg);
  }
  return config;
}

namespace {

std::string readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// First definition of a name wins, wholesale (client-go's merge).
template <typename Map>
void mergeFirstWins(Map& into, const Map& from) {
  for (const auto& [name, value] : from) into.emplace(name, value);
}

}  // namespace

Kubeconfig loadKubeconfig(const ConfigOverrides& overrides, const ConfigEnvironment& environment) {
  std::vector<std::string> paths;
  if (overrides.kubeconfig) {
    const auto path = expandHome(*overrides.kubeconfig, environment.home);
    if (!fs::exists(path)) {
      throw ConfigError("--kubeconfig " + *overrides.kubeconfig + ": the file does not exist");
    }
    paths.push_back(path);
  } else if (environment.kubeconfigVariable && !environment.kubeconfigVariable->empty()) {
    std::stringstream list(*environment.kubeconfigVariable);
    for (std::string item; std::getline(list, item, ':');) {
      if (item.empty()) continue;
      const auto path = expandHome(item, environment.home);
      if (fs::exists(path))
        paths.push_back(path);  // missing files in KUBECONFIG are ignored, as kubectl does
    }
    if (paths.empty()) {
      throw ConfigError("KUBECONFIG=" + *environment.kubeconfigVariable + ": none of these files exists");
    }
  } else {
    const auto path = environment.home + "/.kube/config";
    if (!fs::exists(path)) {
      throw ConfigError("no kubeconfig: ~/.kube/config does not exist; set KUBECONFIG or pass --kubeconfig");
    }
    paths.push_back(path);
  }

  Kubeconfig merged;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec))
      throw ConfigError(displayPath(path, environment.home) + ": is a directory, not a kubeconfig file");
    std::ifstream probe(path);
    if (!probe.good()) throw ConfigError(displayPath(path, environment.home) + ": cannot be read");
    const auto one = parseKubeconfig(readWholeFile(path), path, environment.home);
    mergeFirstWins(merged.clusters, one.clusters);
    mergeFirstWins(merged.users, one.users);
    mergeFirstWins(merged.contexts, one.contexts);
    if (merged.currentContext.empty()) merged.currentContext = one.currentContext;
    merged.files.push_back(path);
  }
  return merged;
}

ResolvedConfig resolveContext(const Kubeconfig& config, const ConfigOverrides& overrides) {
  std::string files;
  for (const auto& file : config.files) files += (files.empty() ? "" : ", ") + file;
  const auto contextName = overrides.context.value_or(config.currentContext);
  if (contextName.empty()) {
    throw ConfigError(files +
                      ": no current-context is set; pass --context or run `kubectl config use-context NAME`");
  }
  const auto context = config.contexts.find(contextName);
  if (context == config.contexts.end()) {
    std::string known;
    for (const auto& [name, _] : config.contexts) known += (known.empty() ? "" : ", ") + name;
    throw ConfigError(
        files + ": context \"" + contextName + "\" is not defined" +
        (known.empty() ? std::string(" (the file defines no contexts)") : " (known: " + known + ")"));
  }
  const Place at{context->second.sourceFile, "context \"" + contextName + "\""};
  const auto cluster = config.clusters.find(context->second.cluster);
  if (context->second.cluster.empty()) fail(at, "cluster is not set");
  if (cluster == config.clusters.end())
    fail(at, "cluster \"" + context->second.cluster + "\" is not defined");
  if (context->second.user.empty()) fail(at, "user is not set");
  const auto user = config.users.find(context->second.user);
  if (user == config.users.end()) fail(at, "user \"" + context->second.user + "\" is not defined");

  ResolvedConfig resolved{contextName, cluster->second, user->second, "default"};
  if (!context->second.namespaceName.empty()) resolved.namespaceName = context->second.namespaceName;
  if (overrides.namespaceName && !overrides.namespaceName->empty())
    resolved.namespaceName = *overrides.namespaceName;

  const Place clusterAt{cluster->second.sourceFile,
                        "cluster \"" + cluster->first + "\" (context \"" + contextName + "\")"};
  if (resolved.cluster.server.empty()) fail(clusterAt, "server is not set");
  if (resolved.cluster.server.rfind("https://", 0) != 0 && resolved.cluster.server.rfind("http://", 0) != 0) {
    fail(clusterAt, "server \"" + resolved.cluster.server + "\" must start with https:// or http://");
  }
  if (!resolved.cluster.certificateAuthorityFile.empty() &&
      !resolved.cluster.certificateAuthorityData.empty()) {
    fail(clusterAt, "certificate-authority and certificate-authority-data are both set; keep one");
  }
  if (resolved.cluster.insecureSkipTlsVerify && (!resolved.cluster.certificateAuthorityFile.empty() ||
                                                 !resolved.cluster.certificateAuthorityData.empty())) {
    // kubectl's own refusal: a CA that would not be checked is a configuration mistake, not a choice.
    fail(clusterAt,
         "specifying a root certificates file with the insecure flag is not allowed; remove "
         "insecure-skip-tls-verify, or the certificate authority");
  }
  const Place userAt{user->second.sourceFile,
                     "user \"" + user->first + "\" (context \"" + contextName + "\")"};
  const auto& u = resolved.user;
  if (u.authProvider) {
    const auto& name = *u.authProvider;
    std::string replacement = "an exec credential plugin";
    if (name == "gcp")
      replacement =
          "gke-gcloud-auth-plugin (exec); see "
          "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl";
    if (name == "azure") replacement = "kubelogin (exec): run `kubelogin convert-kubeconfig`";
    if (name == "oidc") replacement = "kubelogin / kubectl oidc-login (exec)";
    fail(userAt,
         "auth-provider \"" + name + "\" is no longer supported by Kubernetes clients; use " + replacement);
  }
  const bool hasCert = !u.clientCertificateFile.empty() || !u.clientCertificateData.empty();
  const bool hasKey = !u.clientKeyFile.empty() || !u.clientKeyData.empty();
  if (hasCert != hasKey)
    fail(userAt, hasCert ? "client-certificate is set but client-key is missing"
                         : "client-key is set but client-certificate is missing");
  if ((!u.token.empty() || !u.tokenFile.empty()) && !u.username.empty()) {
    fail(userAt, "username/password and a bearer token cannot both be set");
  }
  return resolved;
}

}  // namespace tether::kube
