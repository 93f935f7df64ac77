// Kubeconfig.hpp - kubeconfig files read exactly as kubectl reads them.
//
// Loading follows client-go's rules (k8s-api-notes.md §9): `--kubeconfig` alone if given (it must
// exist), else every file of `KUBECONFIG` (missing ones ignored), else ~/.kube/config; the first file
// to define a cluster, user or context name wins it wholesale; `current-context` comes from the first
// file that sets it; relative paths resolve against the file that names them; `~` expands to HOME.
// Every error names the file, the context and the field, so a user can fix it without reading code.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tether::kube {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ExecConfig {
  std::string apiVersion;
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string installHint;
  bool provideClusterInfo = false;
  std::string interactiveMode;  // Never | IfAvailable | Always
};

struct ClusterConfig {
  std::string name;
  std::string server;
  std::string certificateAuthorityFile;  // absolute
  std::string certificateAuthorityData;  // PEM, decoded
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;
  std::string proxyUrl;
  std::string execExtensionJson;  // the client.authentication.k8s.io/exec extension, as JSON
  std::string sourceFile;
};

struct UserConfig {
  std::string name;
  std::string clientCertificateFile;
  std::string clientCertificateData;  // PEM, decoded
  std::string clientKeyFile;
  std::string clientKeyData;  // PEM, decoded
  std::string token;
  std::string tokenFile;
  std::string username;
  std::string password;
  std::optional<ExecConfig> exec;
  std::optional<std::string> authProvider;
  std::string sourceFile;
};

struct ContextConfig {
  std::string name;
  std::string cluster;
  std::string user;
  std::string namespaceName;
  std::string sourceFile;
};

struct Kubeconfig {
  std::map<std::string, ClusterConfig> clusters;
  std::map<std::string, UserConfig> users;
  std::map<std::string, ContextConfig> contexts;
  std::string currentContext;
  std::vector<std::string> files;  // the files that were read, in order
};

// What the command line or the IDE overrides (kubectl's --kubeconfig, --context, -n).
struct ConfigOverrides {
  std::optional<std::string> kubeconfig;
  std::optional<std::string> context;
  std::optional<std::string> namespaceName;
};

// The environment the loader reads, injectable for tests.
struct ConfigEnvironment {
  std::optional<std::string> kubeconfigVariable;  // $KUBECONFIG
  std::string home;                               // $HOME
  static ConfigEnvironment fromProcess();
};

// One usable connection: the chosen context with its cluster and user, validated.
struct ResolvedConfig {
  std::string contextName;
  ClusterConfig cluster;
  UserConfig user;
  std::string namespaceName;  // the override, else the context's, else "default"
};

Kubeconfig loadKubeconfig(const ConfigOverrides& overrides, const ConfigEnvironment& environment);
// Parses one document (tests and the fuzzer use this); `path` is only used in messages and for
// resolving relative paths.
Kubeconfig parseKubeconfig(const std::string& text, const std::string& path, const std::string& home);
ResolvedConfig resolveContext(const Kubeconfig& config, const ConfigOverrides& overrides);

// "~/.kube/config" for files under HOME, the path otherwise (messages name files as users know them).
std::string displayPath(const std::string& path, const std::string& home);

}  // namespace tether::kube
