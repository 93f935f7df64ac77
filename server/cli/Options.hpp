// Options.hpp - the command line: kubectl-style flags, each subcommand with its own flags and its own
// `--help` (CLI11 does the parsing; Options.cpp says which flags each subcommand takes).
//
// Parsing never exits or prints: it returns either options or an error naming the bad argument and
// what to do, so main() decides how to report it and tests can check the wording.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tether::cli {

enum class Command {
  Help,
  Version,
  Serve,
  Contexts,
  Namespaces,
  Services,
  Sessions,
  Exchange,
  Connect,
  Preview,
  Forward,
  Clean,
  Recover,
  Completion,  // tether completion bash|zsh: the shell's completion script
  Complete,    // tether __complete namespaces|services|contexts: names for that script (hidden)
};

// The session commands: they run a session until Ctrl-C (or CMD's end).
bool isSessionMode(Command command);
// "exchange", "connect", "preview", "forward" (the session mode the command runs).
const char* modeOf(Command command);

struct Options {
  Command command = Command::Help;
  std::string helpText;  // Help: the help of the command asked about (`tether X --help`), or of tether
  // Global.
  std::string logLevel = "info";
  std::optional<std::string> logFile;
  // Cluster selection, as kubectl: --kubeconfig, --context, -n/--namespace.
  std::optional<std::string> kubeconfig;
  std::optional<std::string> context;
  std::optional<std::string> namespaceName;
  bool allNamespaces = false;
  // serve
  bool stdio = false;
  bool delimitedInput = false;
  bool pretty = false;
  // exchange SERVICE --expose ... [--strategy] [--image] [-- CMD ARGS]; recover SERVICE;
  // connect [-- CMD ARGS]; preview NAME --expose ... [--type]; forward SERVICE LOCAL[:REMOTE]...
  std::string target;
  std::vector<std::string> expose;
  std::string strategy = "selector";
  std::string serviceType = "ClusterIP";
  std::string image;
  bool proxyProtocol = false;    // --proxy-protocol: a PROXY v1 line before each forwarded connection
  std::vector<std::string> run;  // after `--`: the command to run with the session
  // clean
  bool dryRun = false;
  int staleAfterSeconds = 120;
  // exchange, clean, recover: "text" (lines for people) or "json" (one JSON event per line)
  std::string output = "text";
  // completion SHELL; __complete WHAT
  std::string shell;
  std::string completeWhat;
};

// "2m", "90s", "1h30m", "0s" -> seconds; nullopt for anything else.
std::optional<int> parseDuration(const std::string& text);

struct UsageError {
  std::string message;
};

std::variant<Options, UsageError> parseOptions(const std::vector<std::string>& args);
// tether's own help (what `tether --help` prints).
std::string helpText();

}  // namespace tether::cli
