// SessionCommands.cpp - the session commands in a terminal: short progress lines (or JSON events), a
// final line that says what happens now and how to stop, and an orderly stop on Ctrl-C, SIGTERM, the
// end of `-- CMD`, or the session failing by itself.
#include "server/cli/SessionCommands.hpp"

#include "server/cli/Environment.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "server/core/Backend.hpp"
#include "server/core/Executable.hpp"
#include "server/ide/SessionJson.hpp"
#include "server/netns/NamespaceExec.hpp"

extern char** environ;

namespace tether::cli {

namespace json = boost::json;

namespace {

sigset_t sessionSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : {SIGINT, SIGTERM, SIGCHLD, SIGUSR1}) sigaddset(&set, signal);
  return set;
}

core::ConnectionOptions connectionOf(const ClusterFlags& cluster) {
  return core::ConnectionOptions{cluster.kubeconfig, cluster.context, cluster.namespaceName};
}

// The request a session command makes: the flags its mode has, and the defaults for the rest.
void fillModeFlags(const SessionOptions& options, core::SessionRequest& request) {
  if (const auto* exchange = std::get_if<ExchangeOptions>(&options.mode)) {
    request.service = exchange->service;
    request.expose = exchange->expose;
    request.strategy = exchange->strategy;
    request.proxyProtocol = exchange->proxyProtocol;
  } else if (const auto* preview = std::get_if<PreviewOptions>(&options.mode)) {
    request.service = preview->name;
    request.expose = preview->expose;
    request.serviceType = preview->serviceType;
  } else if (const auto* forward = std::get_if<ForwardOptions>(&options.mode)) {
    request.service = forward->service;
    request.expose = forward->ports;
  } else if (const auto* mesh = std::get_if<MeshOptions>(&options.mode)) {
    request.service = mesh->service;
    request.expose = mesh->expose;
    const auto add = [&](const std::vector<std::string>& given, const char* kind) {
      for (const auto& text : given) {  // NAME=VALUE, checked by the option parser
        const auto equals = text.find('=');
        request.matchers.push_back({kind, text.substr(0, equals), text.substr(equals + 1)});
      }
    };
    add(mesh->headers, "exact");
    add(mesh->headerPrefixes, "prefix");
    add(mesh->headerRegexes, "regex");
    add(mesh->baggage, "baggage");
  }
}

// Prints events for people or as JSON lines; the session threads call it too.
class Printer final : public core::Backend::Callbacks {
 public:
  explicit Printer(bool asJson) : json_(asJson) {}

  void onLog(std::string_view /*message*/) override {}

  void onSessionChanged(const core::SessionView& session) override {
    {
      std::lock_guard lock(mutex_);
      if (json_) {
        std::cout << json::serialize(
                         json::object{{"event", "session"}, {"session", ide::sessionToJson(session)}})
                  << std::endl;
      } else if (session.state == session::SessionState::Reconnecting ||
                 (session.state == session::SessionState::Active && !session.message.empty()) ||
                 session.state == session::SessionState::Failed) {
        std::cout << "tether: " << (session.service.empty() ? session.namespaceName : session.service) << " "
                  << session::toString(session.state)
                  << (session.message.empty() ? "" : ": " + session.message) << std::endl;
      }
    }
    // A session that ends by itself (its lock removed, restore failures) wakes the main thread.
    if (active_ &&
        (session.state == session::SessionState::Failed || session.state == session::SessionState::Stopped)) {
      ::kill(::getpid(), SIGUSR1);
    }
  }

  void progress(const std::string& step) {
    std::lock_guard lock(mutex_);
    if (json_) {
      std::cout << json::serialize(json::object{{"event", "progress"}, {"step", step}}) << std::endl;
    } else {
      std::cout << "  · " << step << std::endl;
    }
  }

  void line(const std::string& text) {
    std::lock_guard lock(mutex_);
    if (!json_) std::cout << text << std::endl;
  }

  void cleanActions(const core::CleanResult& result, bool dryRun) {
    std::lock_guard lock(mutex_);
    for (const auto& action : result.actions) {
      if (json_) {
        std::cout << json::serialize(json::object{
                         {"event", "clean"}, {"action", ide::cleanActionToJson(action)}, {"dryRun", dryRun}})
                  << std::endl;
        continue;
      }
      std::cout << (dryRun ? "would " : "") << action.kind << " " << action.object << " (session "
                << action.session << (action.owner.empty() ? "" : ", " + action.owner) << ")"
                << (action.error.empty() ? "" : ": FAILED: " + action.error) << std::endl;
    }
    for (const auto& kept : result.kept) {
      if (json_) {
        std::cout << json::serialize(json::object{{"event", "kept"}, {"session", kept}}) << std::endl;
      } else {
        std::cout << "kept live session " << kept << std::endl;
      }
    }
  }

  void error(const core::Error& error) {
    std::lock_guard lock(mutex_);
    if (json_) {
      std::cout << json::serialize(
                       json::object{{"event", "error"}, {"message", error.what()}, {"hint", error.hint()}})
                << std::endl;
    }
    std::cerr << "tether: " << error.what() << (error.hint().empty() ? "" : "\n  hint: " + error.hint())
              << std::endl;
  }

  void setActive(bool active) { active_ = active; }

 private:
  bool json_;
  std::mutex mutex_;
  std::atomic<bool> active_ = false;
};

std::string describeMatchers(const core::SessionView& session) {
  std::string text;
  for (const auto& matcher : session.matchers) text += (text.empty() ? "" : " and ") + matcher.describe();
  return text;
}

// A line to paste into a pod of the namespace that sends one request this session takes (regex matchers
// have no one value to send, so they get none).
std::string curlHint(const core::SessionView& session) {
  std::string headers;
  for (const auto& matcher : session.matchers) {
    switch (matcher.kind()) {
      case mesh::MatchKind::Exact:
      case mesh::MatchKind::Prefix:
        headers += " -H '" + matcher.name() + ": " + matcher.value() + "'";
        break;
      case mesh::MatchKind::Baggage:
        headers += " -H 'baggage: " + matcher.name() + "=" + matcher.value() + "'";
        break;
      case mesh::MatchKind::Regex:
        return "Send requests whose headers match " + describeMatchers(session) + " to reach this machine.";
    }
  }
  const int port = session.exposed.empty() ? 80 : session.exposed.front().servicePort;
  return "Try it from a pod of " + session.namespaceName + ": curl" + headers + " http://" + session.service +
         ":" + std::to_string(port) + "/";
}

std::string describeActive(const core::SessionView& session) {
  std::string ports;
  for (const auto& port : session.exposed) {
    if (!ports.empty()) ports += ", ";
    if (session.mode == session::Mode::Forward) {
      ports += "127.0.0.1:" + std::to_string(port.local) + " -> port " + std::to_string(port.servicePort);
    } else {
      ports += "port " + std::to_string(port.servicePort) + " -> 127.0.0.1:" + std::to_string(port.local);
    }
  }
  const auto where = " in " + session.namespaceName + " (session " + session.id + ")";
  switch (session.mode) {
    case session::Mode::Exchange:
      return "Exchanging " + session.service + where + ": the Service's " + ports + ".";
    case session::Mode::Preview:
      return "Previewing: new Service " + session.service + where + ", its " + ports + ".";
    case session::Mode::Forward:
      return "Forwarding to Service " + session.service + where + ": " + ports +
             ", each connection balanced over its ready pods.";
    case session::Mode::Connect:
      return "Connected to namespace " + session.namespaceName + " (session " + session.id +
             "): processes with the session's environment reach its Services by name.";
    case session::Mode::Mesh:
      return "Meshing " + session.service + where + ": requests with " + describeMatchers(session) +
             " on its " + ports + "; everyone else's stay in the cluster.\n" + curlHint(session);
  }
  return {};
}

// What stopping undoes, for the last lines.
std::string undoneOnStop(const core::SessionView& session) {
  switch (session.mode) {
    case session::Mode::Exchange:
      return "restore " + session.service;
    case session::Mode::Preview:
      return "delete Service " + session.service;
    case session::Mode::Mesh:
      return "leave the mesh of " + session.service + " (the last one out restores it)";
    case session::Mode::Forward:
    case session::Mode::Connect:
      break;
  }
  return "delete the shadow pod";
}

// Starts CMD with this process's environment plus the session's. Everything is prepared before fork():
// the child of a threaded process may only call async-signal-safe functions before exec.
// `--outbound auto`: netns where this machine allows it (it catches everything, static binaries too), else
// preload for a program the dynamic loader starts, else the proxy variables. Without CMD, the proxy: the
// environment is all the user takes to other terminals.
std::string chooseOutbound(const std::vector<std::string>& run) {
  if (run.empty()) return "proxy";
  if (netns::namespaceUnavailable().empty()) return "netns";
  const auto program = core::inspectProgram(run[0]);
  if (program.linkage == core::Linkage::Dynamic || program.linkage == core::Linkage::Script) return "preload";
  return "proxy";
}

pid_t startCommand(const std::vector<std::string>& run, const std::map<std::string, std::string>& launchEnv) {
  auto envText = environmentWith(launchEnv);
  const auto envp = pointersTo(envText);
  std::vector<std::string> argText(run);
  const auto argv = pointersTo(argText);
  const std::string failure = "tether: cannot run " + run[0] + "\n";
  const sigset_t set = sessionSignals();

  const pid_t child = ::fork();
  if (child != 0) return child;
  // The signals blocked for sigwait must not stay blocked in CMD.
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_DFL);  // ignored here, but CMD's pipelines expect the default
  ::execvpe(argv[0], argv.data(), envp.data());
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, failure.data(), failure.size());
  ::_exit(127);
}

// Asks CMD to end (SIGTERM), and insists (SIGKILL) when it has not within `grace`: a CMD that ignores
// SIGTERM or is stopped in a debugger must not keep tether from exiting. Returns its exit code.
int endChild(pid_t child, std::chrono::seconds grace);

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int endChild(pid_t child, std::chrono::seconds grace) {
  ::kill(child, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int status = 0;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      break;
    }
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec wait{static_cast<time_t>(nanos / 1000000000), static_cast<long>(nanos % 1000000000)};
    ::sigtimedwait(&chld, nullptr, &wait);  // SIGCHLD is blocked in this thread: it wakes us here
  }
  return exitCodeOf(status);
}

}  // namespace

void blockSessionSignals() {
  const sigset_t set = sessionSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int runSession(const Options& chosen) {
  const auto& options = chosen.get<SessionOptions>();
  // Whoever reads our output may go away; the cluster must still be restored (writes then just fail).
  std::signal(SIGPIPE, SIG_IGN);
  Printer printer(options.output == "json");
  core::Backend backend(&printer);
  try {
    printer.cleanActions(backend.cleanOwnStaleSessions(), false);
  } catch (const core::Error& error) {
    printer.error(error);  // not fatal: this start may still work
  }
  std::string outbound = options.outbound;
  if (outbound == "auto") {
    outbound = chooseOutbound(options.run);
    std::cerr << "tether: --outbound auto: " << outbound << "\n";
  }
  if (outbound == "preload" && !options.run.empty()) {
    // The shim reaches only what the dynamic loader starts: say so now, not after a session that catches
    // nothing.
    const auto program = core::inspectProgram(options.run[0]);
    if (program.linkage == core::Linkage::Static) {
      std::cerr << "tether: " << program.path
                << " is statically linked, so the LD_PRELOAD shim of --outbound preload cannot reach it (a "
                   "CGO_ENABLED=0 Go binary, a musl static build). Use --outbound netns, which catches every "
                   "connection of any program.\n";
      return 2;
    }
  }
  core::SessionRequest request;
  request.caller = core::Caller::Cli;
  request.mode = modeOf(chosen.command);
  request.connection = connectionOf(options.cluster);
  fillModeFlags(options, request);
  // CMD is started from this process's environment: the session extends that (NO_PROXY ...).
  request.baseEnv = processEnvironment();
  request.image = options.image;
  request.outbound = outbound;
  // With `-- CMD`, CMD starts as soon as the session's environment is known, and traffic moves once it
  // listens on the exposed local ports.
  request.awaitLocal = !options.run.empty();
  // Ctrl-C (or CMD's end) is what stops it: say so.
  std::atomic<pid_t> child = -1;
  auto prepared = [&](const core::SessionView& view) {
    // netns: CMD runs inside `tether netns-exec`, which joins the session's namespace control socket.
    std::vector<std::string> run = view.launchWrapper;
    if (!run.empty()) {
      run.pop_back();  // "--", put back after the debugger's ports
      for (const int port : options.debugPorts) run.insert(run.end(), {"--forward", std::to_string(port)});
      run.push_back("--");
    }
    run.insert(run.end(), options.run.begin(), options.run.end());
    child = startCommand(run, view.launchEnv);
    printer.line("Running " + options.run[0] +
                 " with the session's environment; the session ends when it exits.");
  };

  // Start on a helper thread, so Ctrl-C during the start is heard: it stops the session half-way, which
  // undoes what was done so far.
  std::optional<core::SessionView> started;
  std::optional<core::Error> failure;
  std::atomic<bool> startDone = false;
  std::thread starter([&] {
    try {
      started = backend.startSession(
          request, [&](const std::string& step) { printer.progress(step); },
          request.awaitLocal ? std::function<void(const core::SessionView&)>(prepared) : nullptr);
    } catch (const core::Error& error) {
      failure = error;
    }
    startDone = true;
    ::kill(::getpid(), SIGUSR1);
  });
  const sigset_t set = sessionSignals();
  int signal = 0;
  std::optional<int> earlyExit;
  while (!startDone) {
    signal = ::sigwaitinfo(&set, nullptr);
    if ((signal == SIGINT || signal == SIGTERM) && !startDone) {
      printer.line("tether: stopping; undoing what was done so far");
      backend.shutdown();
    }
    // Checked on every wake: CMD may have exited before its pid was stored and its SIGCHLD consumed.
    int status = 0;
    if (child > 0 && ::waitpid(child, &status, WNOHANG) == child) {
      earlyExit = exitCodeOf(status);
      child = -1;
      printer.line("tether: " + options.run[0] + " exited (" + std::to_string(*earlyExit) +
                   ") before the session was active; stopping");
      backend.shutdown();
    }
  }
  starter.join();
  if (started && backend.isShutDown()) {
    // Ctrl-C arrived as the session became active: the shutdown has stopped it already.
    started.reset();
    failure =
        core::Error(core::ErrorCategory::User, "stopped by the user", "what the session did was undone");
  }
  if (!started) {
    if (child > 0) endChild(child, std::chrono::seconds(10));
    printer.error(failure.value_or(core::Error(core::ErrorCategory::Internal, "the session did not start")));
    return earlyExit.value_or(1) == 0 ? 1 : earlyExit.value_or(1);
  }
  const auto session = *started;
  printer.setActive(true);
  printer.line(describeActive(session));
  const auto& env = session.launchEnv;
  if (const auto http = env.find("HTTP_PROXY"); http != env.end()) {
    printer.line("Outbound: processes started with the session's environment reach cluster names through " +
                 http->second +
                 " (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, JDK_JAVA_OPTIONS; the same port speaks "
                 "SOCKS5). Programs that ignore proxies: --outbound netns.");
  }

  if (session.dnsPort != 0) {
    const auto port = std::to_string(session.dnsPort);
    printer.line("DNS: 127.0.0.1:" + port +
                 " answers names as the namespace's pods resolve them, for tools " +
                 "that take a resolver (dig @127.0.0.1 -p " + port + " orders." + session.namespaceName +
                 ".svc.cluster.local).");
  }
  if (!session.netnsControl.empty()) {
    std::string wrapper;
    for (const auto& word : session.launchWrapper) wrapper += (wrapper.empty() ? "" : " ") + word;
    printer.line("Outbound: " +
                 (options.run.empty() ? std::string("commands started as `") + wrapper + " CMD`" : "CMD") +
                 " run in their own network namespace: every TCP connection and DNS query reaches the "
                 "namespace, whatever the program (psql, redis-cli, a static Go binary).");
  }
  if (options.run.empty() && session.mode == session::Mode::Connect) {
    printer.line(
        "Run commands inside the session with `tether connect -- CMD` (e.g. `tether connect -- bash`).");
  }
  printer.line("Press Ctrl-C to stop and " + undoneOnStop(session) + ".");

  int exitCode = 0;
  for (;;) {
    siginfo_t info{};
    signal = ::sigwaitinfo(&set, &info);
    if (signal == SIGCHLD) {
      int status = 0;
      if (child > 0 && ::waitpid(child, &status, WNOHANG) == child) {
        exitCode = exitCodeOf(status);
        child = -1;
        printer.line("tether: " + options.run[0] + " exited (" + std::to_string(exitCode) + "); stopping");
        break;
      }
      continue;
    }
    if (signal == SIGUSR1) {
      const auto sessions = backend.listSessions();
      if (!sessions.empty() && sessions.front().state == session::SessionState::Active) continue;
      exitCode = 1;
      break;
    }
    if (signal == SIGINT || signal == SIGTERM) break;
  }
  // Restore first (traffic back to the cluster's pods), then end CMD.
  printer.line("tether: stopping: " + undoneOnStop(session));
  printer.setActive(false);
  try {
    const auto stopped = backend.stopSession(session.id);
    if (stopped.state == session::SessionState::Failed) exitCode = 1;
  } catch (const core::Error&) {
    // Already ended by itself; its state was printed.
  }
  backend.shutdown();
  if (child > 0) endChild(child, std::chrono::seconds(10));
  printer.line(session.mode == session::Mode::Exchange ? "tether: " + session.service + " restored."
               : session.mode == session::Mode::Preview
                   ? "tether: Service " + session.service + " deleted."
                   : std::string("tether: stopped; the shadow pod is deleted."));
  return exitCode;
}

namespace {

int runCleanRequest(const ClusterFlags& cluster, const std::string& output,
                    const core::CleanRequest& request) {
  Printer printer(output == "json");
  core::Backend backend(&printer);
  try {
    const auto result = backend.clean(connectionOf(cluster), request);
    printer.cleanActions(result, request.dryRun);
    if (result.actions.empty()) printer.line("tether: nothing to clean");
    for (const auto& action : result.actions) {
      if (!action.error.empty()) return 1;
    }
    return 0;
  } catch (const core::Error& error) {
    printer.error(error);
    return 1;
  }
}

}  // namespace

int runClean(const Options& chosen) {
  if (chosen.command == Command::Recover) {
    const auto& options = chosen.get<RecoverOptions>();
    core::CleanRequest request;
    request.service = options.service;
    return runCleanRequest(options.cluster, options.output, request);
  }
  const auto& options = chosen.get<CleanOptions>();
  core::CleanRequest request;
  request.dryRun = options.dryRun;
  request.staleAfter = std::chrono::seconds(options.staleAfterSeconds);
  request.allNamespaces = options.allNamespaces;
  return runCleanRequest(options.cluster, options.output, request);
}

}  // namespace tether::cli
