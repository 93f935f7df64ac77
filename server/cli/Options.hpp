// Options.hpp - the command line: kubectl-style flags, one parse for every subcommand.
//
// Parsing never exits or prints: it returns either options or an error naming the bad argument and
// what to do, so main() decides how to report it and tests can check the wording.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tether::cli {

enum class Command { Help, Version, Serve, Contexts, Namespaces, Services };

struct Options {
  Command command = Command::Help;
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
};

struct UsageError {
  std::string message;
};

std::variant<Options, UsageError> parseOptions(const std::vector<std::string>& args);
std::string helpText();

}  // namespace tether::cli
