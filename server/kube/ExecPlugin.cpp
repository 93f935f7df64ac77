// ExecPlugin.cpp - spawning credential plugins; their output is read by ExecCredential.cpp.
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

#include "support/text/Base64.hpp"

extern char** environ;

namespace tether::kube {

namespace json = boost::json;

namespace {

std::string execInfo(const ResolvedConfig& config) {
  const auto& exec = *config.user.exec;
  json::object spec{{"interactive", false}};
  if (exec.provideClusterInfo) {
    json::object cluster{{"server", config.cluster.server}};
    if (!config.cluster.certificateAuthorityData.empty()) {
      cluster["certificate-authority-data"] = support::encodeBase64(config.cluster.certificateAuthorityData);
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
