// DoctorCommand.cpp - `tether doctor outbound`: real probes with a real session's launch environment.
//
// A probe "reaches the cluster" when its request got to the Service (any HTTP answer, even an error
// status, or a server that is not HTTP closing on it); it "does not" when the name could not be resolved
// or the connection went nowhere, which is what a runtime that ignores the proxy variables does with a
// cluster name.
#include "server/cli/DoctorCommand.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "server/cli/Environment.hpp"
#include "server/core/Backend.hpp"
#include "server/netns/NamespaceExec.hpp"

namespace tether::cli {

namespace {

constexpr auto kProbeTimeout = std::chrono::seconds(30);

struct Probe {
  int exitCode = -1;  // -1: could not run, or timed out
  std::string out;    // stdout and stderr together
};

// Runs argv with `env` (this process's environment extended by it), output captured, bounded in time.
Probe run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  auto envText = environmentWith(env);
  const auto envp = pointersTo(envText);
  std::vector<std::string> argText(argv);
  const auto args = pointersTo(argText);

  Probe probe;
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) return probe;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 2);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipeFds[1]);
  if (spawned != 0) {
    ::close(pipeFds[0]);
    return probe;
  }
  const auto deadline = std::chrono::steady_clock::now() + kProbeTimeout;
  char buffer[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd readable{pipeFds[0], POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) continue;
    const auto n = ::read(pipeFds[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    if (probe.out.size() < 16384) probe.out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipeFds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  probe.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return probe;
}

bool onPath(const std::string& program) {
  return run({"sh", "-c", "command -v \"$0\" >/dev/null", program}, {}).exitCode == 0;
}

std::string firstLine(const std::string& text) {
  auto line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

struct Verdict {
  std::string runtime;
  std::string result;  // "reaches the cluster", "does not reach the cluster", "not installed", ...
  std::string note;
};

// Each runtime's probe prints "reached" or "failed <why>" (curl's is judged from its exit code).
const char* kPythonProbe = R"(
import sys
kind, url = sys.argv[1], sys.argv[2]
try:
    if kind == "urllib":
        import urllib.request, urllib.error
        try:
            urllib.request.urlopen(url, timeout=20)
        except urllib.error.HTTPError:
            pass
    elif kind == "requests":
        import requests
        requests.get(url, timeout=20)
    else:
        import httpx
        httpx.get(url, timeout=20)
    print("reached")
except ImportError as error:
    print("missing", error)
except Exception as error:
    text = repr(error)
    reached = any(word in text for word in ("RemoteDisconnected", "BadStatusLine", "RemoteProtocolError"))
    print("reached" if reached else "failed " + text)
)";

const char* kNodeProbe =
    "fetch(process.argv[1]).then(() => console.log('reached'))"
    ".catch(e => console.log((String(e.cause && e.cause.code) === 'UND_ERR_SOCKET' ? 'reached' : 'failed ') +"
    " String(e.cause || e)))";

const char* kJavaProbe = R"(
import java.net.HttpURLConnection;
import java.net.URL;

public class TetherDoctorProbe {
  public static void main(String[] args) {
    try {
      HttpURLConnection connection = (HttpURLConnection) new URL(args[0]).openConnection();
      connection.setConnectTimeout(20000);
      connection.setReadTimeout(20000);
      connection.getResponseCode();
      System.out.println("reached");
    } catch (Exception e) {
      System.out.println("failed " + e);
    }
  }
}
)";

Verdict judge(const std::string& runtime, const Probe& probe, const std::string& goodNote,
              const std::string& badNote) {
  const auto text = probe.out;
  const auto at = text.find("reached");
  if (at != std::string::npos && text.find("failed") == std::string::npos)
    return {runtime, "reaches the cluster", goodNote};
  if (text.find("missing") != std::string::npos) return {runtime, "not installed", ""};
  std::string why = text.substr(0, std::min<std::size_t>(text.size(), 160));
  for (auto& c : why) c = c == '\n' ? ' ' : c;
  return {runtime, "does not reach the cluster", badNote + (why.empty() ? "" : " (" + firstLine(why) + ")")};
}

std::vector<Verdict> probeRuntimes(const std::map<std::string, std::string>& env, const std::string& url,
                                   const std::filesystem::path& scratch) {
  std::vector<Verdict> verdicts;
  if (onPath("curl")) {
    const auto probe =
        run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", url}, env);
    // 52/56: the server answered with something that is not HTTP, which still means it was reached.
    const bool reached = (probe.exitCode == 0 && firstLine(probe.out) != "000") || probe.exitCode == 52 ||
                         probe.exitCode == 56;
    std::istringstream words(firstLine(run({"curl", "--version"}, {}).out));
    std::string name, number;
    words >> name >> number;
    const auto version = name + " " + number;  // "curl 7.88.1"

    verdicts.push_back(reached ? Verdict{version, "reaches the cluster", "honours http_proxy"}
                               : Verdict{version, "does not reach the cluster", firstLine(probe.out)});
  }
  if (onPath("python3")) {
    const auto version = firstLine(run({"python3", "--version"}, {}).out);
    for (const char* kind : {"urllib", "requests", "httpx"}) {
      const auto probe = run({"python3", "-c", kPythonProbe, kind, url}, env);
      verdicts.push_back(judge(version + " " + kind, probe,
                               kind == std::string("httpx") ? "ALL_PROXY is http://, no socksio needed"
                                                            : "honours the proxy variables",
                               "needs --outbound netns"));
    }
  }
  if (onPath("node")) {
    const auto version = "node " + firstLine(run({"node", "--version"}, {}).out);
    verdicts.push_back(
        judge(version, run({"node", "-e", kNodeProbe, url}, env), "honours NODE_USE_ENV_PROXY",
              "Node before 22.21/24 ignores proxy variables: use --outbound netns, or a proxy agent"));
  }
  if (onPath("java")) {
    const auto source = scratch / "TetherDoctorProbe.java";
    std::ofstream(source) << kJavaProbe;
    const auto version = firstLine(run({"java", "-version"}, {}).out);
    verdicts.push_back(
        judge(version.empty() ? "java" : version, run({"java", source.string(), url}, env),
              "HttpURLConnection through JDK_JAVA_OPTIONS; NIO/Netty clients (Lettuce, gRPC-Java, "
              "Reactor Netty) still need --outbound netns",
              "use --outbound netns"));
  }
  if (onPath("go")) {
    verdicts.push_back(
        {firstLine(run({"go", "version"}, {}).out), "not probed (needs a build)",
         "net/http honours HTTP_PROXY; custom Transports without Proxy and database drivers do not: "
         "use --outbound netns"});
  }
  verdicts.push_back({"database drivers, redis-cli, nc", "do not reach the cluster",
                      "raw TCP clients ignore proxy variables: use --outbound netns"});
  return verdicts;
}

// What the program's own file says about how it will connect.
std::string judgeProgram(const std::string& program) {
  const auto located = run({"sh", "-c", "command -v \"$0\"", program}, {});
  const auto path = firstLine(located.out);
  if (located.exitCode != 0 || path.empty()) return program + ": not found on PATH";
  std::ifstream file(path, std::ios::binary);
  std::string head(64 * 1024, '\0');
  file.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(file.gcount()));
  if (head.rfind("#!", 0) == 0) {
    return path + ": a script run by " + firstLine(head.substr(2)) +
           "; it reaches the cluster through the proxy if that runtime does (above), else with --outbound "
           "netns";
  }
  if (head.rfind("\x7f"
                 "ELF",
                 0) != 0)
    return path + ": not an executable this doctor can read";
  const auto whole = run({"sh", "-c", "LC_ALL=C grep -c 'Go build' \"$0\"", path}, {});
  const bool go = whole.exitCode == 0 && firstLine(whole.out) != "0";
  const auto headers = run({"readelf", "-l", path}, {});
  const bool known = headers.exitCode == 0;
  const bool dynamic = headers.out.find("INTERP") != std::string::npos;
  std::string kind = go ? "a Go program" : "a native program";
  kind += !known ? "" : dynamic ? ", dynamically linked" : ", statically linked";
  std::string verdict = path + ": " + kind + ". ";
  verdict +=
      go ? "Its net/http honours HTTP_PROXY; its other clients (database drivers, gRPC dialers) do not. "
         : "It reaches the cluster through the proxy only if it reads HTTP_PROXY/ALL_PROXY itself. ";
  verdict += "--outbound netns catches every connection it makes";
  if (known && !dynamic) verdict += " (the only way for a static binary)";
  return verdict + ".";
}

std::string netnsVerdict() {
  const auto missing = netns::namespaceUnavailable();
  return missing.empty() ? "available (unprivileged user namespaces work here)" : "not available: " + missing;
}

}  // namespace

int runDoctor(const Options& options) {
  const auto& doctor = options.get<DoctorOptions>();
  auto& out = std::cout;
  core::ConnectionOptions connection{doctor.cluster.kubeconfig, doctor.cluster.context,
                                     doctor.cluster.namespaceName};
  // Ctrl-C waits for the session's own stop: a doctor must not leave a shadow pod behind.
  sigset_t interrupts;
  sigemptyset(&interrupts);
  sigaddset(&interrupts, SIGINT);
  sigaddset(&interrupts, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &interrupts, nullptr);

  core::Backend backend;
  int exitCode = 0;
  try {
    std::string service = doctor.service;
    int port = 0;
    for (const auto& view : backend.services(connection)) {
      if (!service.empty() && view.service.name != service) continue;
      for (const auto& servicePort : view.service.ports) {
        if (servicePort.protocol.empty() || servicePort.protocol == "TCP") {
          service = view.service.name;
          port = servicePort.port;
          break;
        }
      }
      if (port != 0) break;
    }
    if (port == 0) {
      std::cerr << "tether doctor outbound: "
                << (doctor.service.empty()
                        ? "the namespace has no Service with a TCP port to fetch"
                        : "no Service " + doctor.service + " with a TCP port in the namespace")
                << "; name one with --service NAME\n";
      return 1;
    }
    core::SessionRequest request;
    request.caller = core::Caller::Cli;
    request.mode = "connect";
    request.connection = connection;
    request.baseEnv = processEnvironment();
    out << "Starting a connect session to probe with its launch environment...\n" << std::flush;
    const auto session = backend.startSession(request, [](const std::string&) {});
    const std::string url = "http://" + service + ":" + std::to_string(port) + "/";
    out << "Fetching " << url << " (Service " << service << " in " << session.namespaceName
        << ") from each runtime found here, with only the launch environment:\n";
    const auto scratch =
        std::filesystem::temp_directory_path() / ("tether-doctor-" + std::to_string(::getpid()));
    std::filesystem::create_directories(scratch);
    for (const auto& verdict : probeRuntimes(session.launchEnv, url, scratch)) {
      out << "  " << verdict.runtime << ": " << verdict.result
          << (verdict.note.empty() ? "" : "; " + verdict.note) << "\n";
    }
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
    if (!doctor.run.empty()) out << "Your program: " << judgeProgram(doctor.run[0]) << "\n";
    out << "--outbound netns (every TCP connection and DNS query of one command, no root): " << netnsVerdict()
        << "\n";
    out << "Stopping the session...\n" << std::flush;
    backend.stopSession(session.id, true);
  } catch (const core::Error& error) {
    std::cerr << "tether doctor outbound: " << error.what() << "\n" << error.hint() << "\n";
    exitCode = 1;
  }
  backend.shutdown();
  sigset_t pending;
  sigpending(&pending);
  if (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)) return 130;
  return exitCode;
}

}  // namespace tether::cli
