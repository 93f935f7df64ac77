// ExecPlugin.cpp - spawning credential plugins and reading their ExecCredential.
#include "server/kube/ExecPlugin.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "server/kube/Base64.hpp"

extern char** environ;

namespace tether::kube {

namespace json = boost::json;

std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  if (*rest == '.') {
    ++rest;
    while (*rest >= '0' && *rest <= '9') ++rest;
  }
  long offsetSeconds = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int hours = 0, minutes = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hours, &minutes) != 2) return std::nullopt;
    offsetSeconds = (hours * 3600L + minutes * 60L) * (*rest == '+' ? 1 : -1);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  const auto seconds = timegm(&tm) - offsetSeconds;
  return std::chrono::system_clock::from_time_t(seconds);
}

ExecCredential parseExecCredential(const std::string& output, const std::string& expectedApiVersion,
                                   const std::string& userName) {
  const std::string who = "exec plugin of user \"" + userName + "\"";
  boost::system::error_code ec;
  const auto value = json::parse(output, ec);
  if (ec || !value.is_object())
    throw CredentialError(who + " printed something that is not an ExecCredential JSON object");
  const auto& object = value.get_object();
  const auto* apiVersion = object.if_contains("apiVersion");
  if (apiVersion == nullptr || !apiVersion->is_string() || apiVersion->get_string() != expectedApiVersion) {
    throw CredentialError(who + " answered apiVersion " +
                          (apiVersion != nullptr ? json::serialize(*apiVersion) : "(none)") +
                          ", but the kubeconfig asks for " + expectedApiVersion);
  }
  const auto* status = object.if_contains("status");
  if (status == nullptr || !status->is_object()) throw CredentialError(who + " answered without a status");
  ExecCredential credential;
  const auto& fields = status->get_object();
  auto text = [&](const char* key) -> std::string {
    const auto* field = fields.if_contains(key);
    if (field == nullptr || field->is_null()) return {};
    if (!field->is_string()) throw CredentialError(who + ": status." + key + " is not a string");
    return std::string(field->get_string());
  };
  credential.token = text("token");
  credential.clientCertificatePem = text("clientCertificateData");
  credential.clientKeyPem = text("clientKeyData");
  if (credential.clientCertificatePem.empty() != credential.clientKeyPem.empty()) {
    throw CredentialError(who +
                          " returned only one of clientCertificateData and clientKeyData; both are needed");
  }
  if (credential.token.empty() && credential.clientCertificatePem.empty()) {
    throw CredentialError(who + " returned neither a token nor a client certificate");
  }
  if (const auto expiry = text("expirationTimestamp"); !expiry.empty()) {
    credential.expiration = parseRfc3339(expiry);
    if (!credential.expiration)
      throw CredentialError(who + ": expirationTimestamp \"" + expiry + "\" is not RFC 3339");
  }
  return credential;
}

namespace {

std::string execInfo(const ResolvedConfig& config) {
  const auto& exec = *config.user.exec;
  json::object spec{{"interactive", false}};
  if (exec.provideClusterInfo) {
    json::object cluster{{"server", config.cluster.server}};
    if (!config.cluster.certificateAuthorityData.empty()) {
      cluster["certificate-authority-data"] = encodeBase64(config.cluster.certificateAuthorityData);
    }
    if (config.cluster.insecureSkipTlsVerify) cluster["insecure-skip-tls-verify"] = true;
    if (!config.cluster.tlsServerName.empty()) cluster["tls-server-name"] = config.cluster.tlsServerName;
    if (!config.cluster.proxyUrl.empty()) cluster["proxy-url"] = config.cluster.proxyUrl;
    if (!config.cluster.execExtensionJson.empty()) {
      boost::system::error_code ec;
      auto extension = json::parse(config.cluster.execExtensionJson, ec);
      if (!ec) cluster["config"] = std::move(extension);
    }
    spec["cluster"] = std::move(cluster);
  }
  return json::serialize(
      json::object{{"kind", "ExecCredential"}, {"apiVersion", exec.apiVersion}, {"spec", std::move(spec)}});
}

}  // namespace

ExecCredential runExecPlugin(const ResolvedConfig& config, const ExecPluginLimits& limits) {
  const auto& exec = *config.user.exec;
  const std::string who = "exec plugin \"" + exec.command + "\" of user \"" + config.user.name +
                          "\" (context \"" + config.contextName + "\")";
  if (exec.interactiveMode == "Always") {
    throw CredentialError(
        who +
        " needs an interactive terminal (interactiveMode: Always), which the IDE backend "
        "cannot offer; log in with the plugin in a terminal first, or set interactiveMode: IfAvailable");
  }
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, "KUBERNETES_EXEC_INFO=", 21) != 0) environment.emplace_back(*entry);
  }
  for (const auto& [name, value] : exec.env) environment.push_back(name + "=" + value);
  environment.push_back("KUBERNETES_EXEC_INFO=" + execInfo(config));
  std::vector<char*> envp;
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> argvStrings{exec.command};
  argvStrings.insert(argvStrings.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  for (auto& arg : argvStrings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw CredentialError(who + ": cannot create pipes");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);  // never the IDE protocol's stdin
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  pid_t pid = 0;
  const int spawnError =
      posix_spawnp(&pid, exec.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  if (spawnError != 0) {
    close(out[0]);
    close(err[0]);
    std::string message = who + " could not be started: " + std::strerror(spawnError);
    if (spawnError == ENOENT) {
      message = who + " is not installed or not on PATH";
      if (!exec.installHint.empty()) message += ". " + exec.installHint;
    }
    throw CredentialError(message);
  }

  std::string stdoutText, stderrText;
  const auto deadline = std::chrono::steady_clock::now() + limits.timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open = 2;
  bool timedOut = false;
  while (open > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const auto n = read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      auto& target = i == 0 ? stdoutText : stderrText;
      if (target.size() < limits.maxOutputBytes) target.append(buffer, static_cast<std::size_t>(n));
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  if (timedOut) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    throw CredentialError(who + " did not finish within " + std::to_string(limits.timeout.count() / 1000) +
                          "s");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!stderrText.empty() && (stderrText.back() == '\n' || stderrText.back() == '\r'))
      stderrText.pop_back();
    throw CredentialError(who + " failed (exit " +
                          std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")" +
                          (stderrText.empty() ? "" : ": " + stderrText.substr(0, 500)));
  }
  return parseExecCredential(stdoutText, exec.apiVersion, config.user.name);
}

}  // namespace tether::kube
