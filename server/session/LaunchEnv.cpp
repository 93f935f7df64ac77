// LaunchEnv.cpp - proxy variables for the launched process.
#include "server/session/LaunchEnv.hpp"

#include <filesystem>
#include <set>
#include <sstream>

namespace tether::session {

namespace {

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const auto& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

std::string find(const std::map<std::string, std::string>& map, const std::string& key) {
  const auto found = map.find(key);
  return found == map.end() ? std::string() : found->second;
}

}  // namespace

std::map<std::string, std::string> launchEnvironment(const LaunchEnvInput& input) {
  const std::string userInfo = input.proxyUserInfo.empty() ? std::string() : input.proxyUserInfo + "@";
  const std::string http = "http://" + userInfo + "127.0.0.1:" + std::to_string(input.proxyPort);

  // Loopback and this host's names stay local; whatever the user already excluded stays excluded.
  std::vector<std::string> noProxy{"localhost", "127.0.0.1", "::1"};
  for (const auto& name : input.localNames) noProxy.push_back(name);
  for (const auto* key : {"NO_PROXY", "no_proxy"}) {
    std::istringstream existing(find(input.current, key));
    for (std::string item; std::getline(existing, item, ',');) {
      if (!item.empty()) noProxy.push_back(item);
    }
  }
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (const auto& item : noProxy) {
    if (seen.insert(item).second) unique.push_back(item);
  }
  const auto noProxyList = joined(unique, ",");

  std::map<std::string, std::string> env{
      {"HTTP_PROXY", http}, {"http_proxy", http}, {"HTTPS_PROXY", http},     {"https_proxy", http},
      {"ALL_PROXY", http},  {"all_proxy", http},  {"NO_PROXY", noProxyList}, {"no_proxy", noProxyList},
  };

  // Node (24 and later) reads the variables above only when asked to; older versions ignore this one.
  env["NODE_USE_ENV_PROXY"] = "1";

  // The JVM ignores the variables above; it reads system properties. nonProxyHosts uses | and * globs.
  std::vector<std::string> javaNoProxy;
  for (const auto& item : unique) javaNoProxy.push_back(item == "::1" ? "[::1]" : item);
  const auto port = std::to_string(input.proxyPort);
  std::string java = "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=" + port +
                     " -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=" + port +
                     " -Dhttp.nonProxyHosts=" + joined(javaNoProxy, "|");
  if (!input.jvmAgent.empty()) {
    // The JVM has no property for proxy credentials; the agent answers the proxy's 407 from HTTP_PROXY.
    // The JDK refuses Basic for CONNECT unless the scheme is taken off its disabled list.
    const bool spaced = input.jvmAgent.find(' ') != std::string::npos;
    java += " -javaagent:" + (spaced ? "\"" + input.jvmAgent + "\"" : input.jvmAgent) +
            " -Djdk.http.auth.tunneling.disabledSchemes=";
  }
  const auto existingJava = find(input.current, "JDK_JAVA_OPTIONS");
  env["JDK_JAVA_OPTIONS"] = existingJava.empty() ? java : existingJava + " " + java;
  return env;
}

std::map<std::string, std::string> preloadEnvironment(const PreloadEnvInput& input,
                                                      const std::map<std::string, std::string>& current) {
  const auto existing = find(current, "LD_PRELOAD");
  return {{"LD_PRELOAD", existing.empty() ? input.library : input.library + ":" + existing},
          {"TETHER_PRELOAD", input.socketPath},
          {"TETHER_PRELOAD_PORT", std::to_string(input.port)},
          {"TETHER_PRELOAD_RANGES", joined(input.ranges, ",")},
          {"TETHER_PRELOAD_DOMAINS", joined(input.domains, ",")},
          {"TETHER_PRELOAD_DNS_PORT", std::to_string(input.dnsPort)},
          {"TETHER_PRELOAD_NAMESERVERS", joined(input.nameservers, ",")}};
}

std::string findPreloadLibrary() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const auto& candidate :
       {self.parent_path() / "libtether-preload.so",
        self.parent_path().parent_path() / "lib" / "tether" / "libtether-preload.so"}) {
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
  }
  return {};
}

std::string findJvmAgent() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const auto& candidate :
       {self.parent_path() / "tether-jvm-agent.jar",
        self.parent_path().parent_path() / "share" / "tether" / "tether-jvm-agent.jar"}) {
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
  }
  return {};
}

}  // namespace tether::session
