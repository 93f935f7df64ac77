// Main.cpp - the `tether` entry point: flags, logging, wiring, signals and exit codes.
#include <spdlog/spdlog.h>

#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string_view>

#include "server/cli/ClusterCommands.hpp"
#include "server/cli/Completion.hpp"
#include "server/cli/DoctorCommand.hpp"
#include "server/cli/Logging.hpp"
#include "server/cli/Options.hpp"
#include "server/cli/SessionCommands.hpp"
#include "server/core/Backend.hpp"
#include "server/core/BuildInfo.hpp"
#include "server/ide/TetherServer.hpp"
#include "server/netns/NamespaceExec.hpp"
#include "server/rpc/Dispatcher.hpp"
#include "server/rpc/StdioTransport.hpp"

namespace {

tether::rpc::StdioTransport* gTransport = nullptr;

extern "C" void onTerminationSignal(int /*signal*/) {
  if (gTransport != nullptr) gTransport->stop();
}

int serve(const tether::cli::ServeOptions& options) {
  using namespace tether;
  // A client that closes its end must not kill us with SIGPIPE before sessions are restored.
  std::signal(SIGPIPE, SIG_IGN);

  rpc::StdioOptions stdio;
  stdio.inputStyle = options.delimitedInput ? rpc::InputStyle::Delimited : rpc::InputStyle::Standard;
  stdio.pretty = options.pretty;
  rpc::StdioTransport transport(STDIN_FILENO, STDOUT_FILENO, stdio);
  rpc::Dispatcher dispatcher(transport);
  ide::TetherServer server(dispatcher, [&transport](int pid) { return transport.watchProcess(pid); });

  gTransport = &transport;
  struct sigaction action {};
  action.sa_handler = onTerminationSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  // What a killed backend of this machine left in a cluster is undone before anything new starts, so a
  // new session never finds its own dead predecessor holding the Service. Requests wait in the pipe.
  for (const auto& cleaned : server.backend().cleanOwnStaleSessions().actions) {
    spdlog::info("cleaned a stale session of this machine: {} {} (session {}){}", cleaned.kind,
                 cleaned.object, cleaned.session, cleaned.error.empty() ? "" : ": " + cleaned.error);
  }
  spdlog::info("tether {} serving JSON-RPC on stdio (pid {})", core::kVersion, ::getpid());
  const auto end = transport.loop(dispatcher);
  gTransport = nullptr;

  // Whatever ended the loop, restore the cluster before exiting (sessions arrive with the exchange issue).
  server.backend().shutdown();
  switch (end) {
    case rpc::LoopEnd::HandlerStopped:
      return dispatcher.exitCode();
    case rpc::LoopEnd::EndOfInput:
      spdlog::info("input closed; exiting");
      return dispatcher.exitCode();
    case rpc::LoopEnd::Stopped:
      spdlog::info("stopped by signal; exiting");
      return dispatcher.exitCode();
    case rpc::LoopEnd::ClientGone:
      spdlog::info("the IDE process is gone; exiting");
      return dispatcher.exitCode();
    case rpc::LoopEnd::ReadError:
      return 1;
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tether::cli;
  // Before anything else: the namespace wrapper must still be single-threaded when it calls unshare().
  if (argc > 1 && std::string_view(argv[1]) == "netns-exec")
    return tether::netns::runNamespaceExec(argc - 1, argv + 1);
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parseOptions(args);
  if (auto* error = std::get_if<UsageError>(&parsed)) {
    std::cerr << "tether: " << error->message << "\n";
    return 2;
  }
  const auto& options = std::get<Options>(parsed);
  switch (options.command) {
    case Command::Help:
      std::cout << (options.helpText.empty() ? helpText() : options.helpText);
      return 0;
    case Command::Completion:
      std::cout << completionScript(options.get<CompletionOptions>().shell);
      return 0;
    case Command::Version:
      std::cout << tether::core::kProductName << " " << tether::core::kVersion << "\n";
      return 0;
    case Command::Serve:
    case Command::Contexts:
    case Command::Namespaces:
    case Command::Services:
    case Command::Sessions:
    case Command::Exchange:
    case Command::Connect:
    case Command::Preview:
    case Command::Forward:
    case Command::Mesh:
    case Command::Clean:
    case Command::Recover:
    case Command::Complete:
    case Command::Doctor:
      break;
  }
  if (isSessionMode(options.command)) tether::cli::blockSessionSignals();  // before any thread
  // The cluster commands print tables; their log stays quiet unless asked for.
  const bool table = options.command != Command::Serve;
  if (auto error = setUpLogging(options.command == Command::Complete         ? "off"
                                : table && options.global.logLevel == "info" ? "warn"
                                                                             : options.global.logLevel,
                                options.global.logFile)) {
    std::cerr << "tether: " << *error << "\n";
    return 2;
  }
  try {
    if (isSessionMode(options.command)) return runSession(options);
    if (options.command == Command::Clean || options.command == Command::Recover) return runClean(options);
    if (options.command == Command::Doctor) return runDoctor(options);
  } catch (const std::exception& error) {
    spdlog::critical("fatal: {}", error.what());
    return 1;
  }
  if (table) {
    tether::core::Backend backend;
    return runClusterCommand(options, backend, std::cout, std::cerr);
  }
  try {
    return serve(options.get<ServeOptions>());
  } catch (const std::exception& error) {
    spdlog::critical("fatal: {}", error.what());
    return 1;
  }
}
