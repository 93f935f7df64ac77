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
  Mesh,
  Clean,
  Recover,
  Completion,  // tether completion bash|zsh: the shell's completion script
  Complete,    // tether __complete namespaces|services|contexts: names for that script (hidden)
  Doctor,      // tether doctor outbound [-- CMD]: what reaches the cluster from this machine, and how
};

// The session commands: they run a session until Ctrl-C (or CMD's end).
bool isSessionMode(Command command);
// "exchange", "connect", "preview", "forward", "mesh" (the session mode the command runs).
const char* modeOf(Command command);

// Every subcommand and tether itself: where the log goes.
struct GlobalOptions {
  std::string logLevel = "info";
  std::optional<std::string> logFile;
};

// Cluster selection, as kubectl: --kubeconfig, --context, -n/--namespace.
struct ClusterFlags {
  std::optional<std::string> kubeconfig;
  std::optional<std::string> context;
  std::optional<std::string> namespaceName;
};

// serve --stdio [--input-style standard|delimited] [--pretty]
struct ServeOptions {
  bool delimitedInput = false;
  bool pretty = false;
};

// contexts, namespaces, services; sessions (which reads this machine's records and ignores them).
struct ListOptions {
  ClusterFlags cluster;
};

// exchange SERVICE --expose LOCAL[:REMOTE]... [--strategy selector|scale] [--proxy-protocol]
struct ExchangeOptions {
  std::string service;
  std::vector<std::string> expose;
  std::string strategy = "selector";
  bool proxyProtocol = false;  // a PROXY v1 line before each forwarded connection
};
// connect
struct ConnectOptions {};
// preview NAME --expose LOCAL[:PORT]... [--type ClusterIP|NodePort|LoadBalancer]
struct PreviewOptions {
  std::string name;
  std::vector<std::string> expose;
  std::string serviceType = "ClusterIP";
};
// forward SERVICE LOCAL[:REMOTE]...
struct ForwardOptions {
  std::string service;
  std::vector<std::string> ports;
};
// mesh SERVICE --expose LOCAL[:REMOTE]... [--header NAME=VALUE] [--header-prefix NAME=PREFIX]
//      [--header-regex NAME=RE2] [--baggage KEY=VALUE] (each repeatable; all must match)
struct MeshOptions {
  std::string service;
  std::vector<std::string> expose;
  std::vector<std::string> headers, headerPrefixes, headerRegexes, baggage;
};
// What the session commands share ([--image] [--output] [-- CMD ARGS]), and each one's own flags.
struct SessionOptions {
  ClusterFlags cluster;
  std::string image;
  std::string output = "text";   // "text" (lines for people) or "json" (one JSON event per line)
  std::vector<std::string> run;  // after `--`: the command to run with the session
  std::variant<ExchangeOptions, ConnectOptions, PreviewOptions, ForwardOptions, MeshOptions> mode;
  std::string outbound = "proxy";  // proxy | netns
  std::vector<int> debugPorts;     // netns: ports carried into the namespace (a debugger's)
};

// clean [-A] [--dry-run] [--stale-after DURATION]
struct CleanOptions {
  ClusterFlags cluster;
  bool allNamespaces = false;
  bool dryRun = false;
  int staleAfterSeconds = 120;
  std::string output = "text";
};
// recover SERVICE
struct RecoverOptions {
  ClusterFlags cluster;
  std::string service;
  std::string output = "text";
};
// doctor outbound [--service NAME] [-- CMD ARGS]
struct DoctorOptions {
  ClusterFlags cluster;
  std::string what;              // "outbound"
  std::string service;           // the Service the probes fetch; default: the namespace's first
  std::vector<std::string> run;  // the program to judge
};
// completion bash|zsh
struct CompletionOptions {
  std::string shell;
};
// __complete namespaces|services|contexts
struct CompleteOptions {
  ClusterFlags cluster;
  std::string what;
};

struct Options {
  Command command = Command::Help;
  std::string helpText;  // Help: the help of the command asked about (`tether X --help`), or of tether
  GlobalOptions global;
  // The chosen subcommand's own options (monostate for help and version).
  std::variant<std::monostate, ServeOptions, ListOptions, SessionOptions, CleanOptions, RecoverOptions,
               CompletionOptions, CompleteOptions, DoctorOptions>
      specific;

  template <typename T>
  const T& get() const {
    return std::get<T>(specific);
  }
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
