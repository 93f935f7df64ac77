// Options.cpp - argument parsing and the help text.
#include "server/cli/Options.hpp"

#include <array>

namespace tether::cli {

namespace {

constexpr std::array kLogLevels = {"trace", "debug", "info", "warn", "error", "off"};

bool isLogLevel(const std::string& level) {
  for (const auto* known : kLogLevels) {
    if (level == known) return true;
  }
  return false;
}

// Splits "--flag=value" into its parts; a flag without '=' gets no inline value.
std::pair<std::string, std::optional<std::string>> splitFlag(const std::string& arg) {
  const auto equals = arg.find('=');
  if (arg.rfind("--", 0) != 0 || equals == std::string::npos) return {arg, std::nullopt};
  return {arg.substr(0, equals), arg.substr(equals + 1)};
}

}  // namespace

std::string helpText() {
  return R"(tether - run and debug one service locally while the rest of its Kubernetes namespace runs in the cluster

Usage:
  tether serve --stdio [--input-style=standard|delimited] [--pretty]
                            run the IDE backend: JSON-RPC 2.0 with LSP framing on stdin/stdout
  tether contexts           list the kubeconfig's contexts (as kubectl config get-contexts)
  tether namespaces         list the namespaces of the cluster
  tether services -n NS     list the Services of a namespace and who holds each
  tether --version          print the version
  tether --help             print this help

Cluster flags (as kubectl):
  --kubeconfig PATH         the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  --context NAME            the kubeconfig context (default: its current-context)
  -n, --namespace NS        the namespace (default: the context's, else "default")

Global flags:
  --log-level LEVEL         trace, debug, info (default), warn, error or off; logs go to stderr
  --log-file PATH           also write the log to PATH

stdout of `tether serve --stdio` carries protocol messages only. The methods are documented in
protocol/PROTOCOL.md.
)";
}

std::variant<Options, UsageError> parseOptions(const std::vector<std::string>& args) {
  Options options;
  std::optional<std::string> subcommand;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto [flag, inlineValue] = splitFlag(args[i]);
    auto value = [&, flag = flag, inlineValue = inlineValue]() -> std::variant<std::string, UsageError> {
      if (inlineValue) return *inlineValue;
      if (i + 1 >= args.size()) return UsageError{flag + " needs a value"};
      return args[++i];
    };
    if (flag == "--help" || flag == "-h") {
      options.command = Command::Help;
      return options;
    }
    if (flag == "--version") {
      options.command = Command::Version;
      return options;
    }
    if (flag == "--log-level") {
      auto level = value();
      if (auto* error = std::get_if<UsageError>(&level)) return *error;
      options.logLevel = std::get<std::string>(level);
      if (!isLogLevel(options.logLevel)) {
        return UsageError{"--log-level: unknown level \"" + options.logLevel +
                          "\"; use trace, debug, info, warn, error or off"};
      }
      continue;
    }
    if (flag == "--log-file") {
      auto path = value();
      if (auto* error = std::get_if<UsageError>(&path)) return *error;
      options.logFile = std::get<std::string>(path);
      continue;
    }
    if (flag == "--kubeconfig" || flag == "--context" || flag == "-n" || flag == "--namespace") {
      auto text = value();
      if (auto* error = std::get_if<UsageError>(&text)) return *error;
      auto& target = flag == "--kubeconfig" ? options.kubeconfig
                     : flag == "--context"  ? options.context
                                            : options.namespaceName;
      target = std::get<std::string>(text);
      if (target->empty()) return UsageError{flag + " needs a non-empty value"};
      continue;
    }
    if (flag == "--stdio" && subcommand == "serve") {
      options.stdio = true;
      continue;
    }
    if (flag == "--pretty" && subcommand == "serve") {
      options.pretty = true;
      continue;
    }
    if (flag == "--input-style" && subcommand == "serve") {
      auto style = value();
      if (auto* error = std::get_if<UsageError>(&style)) return *error;
      const auto& text = std::get<std::string>(style);
      if (text != "standard" && text != "delimited") {
        return UsageError{"--input-style: unknown style \"" + text + "\"; use standard or delimited"};
      }
      options.delimitedInput = text == "delimited";
      continue;
    }
    if (!flag.empty() && flag[0] == '-') {
      return UsageError{"unknown flag " + flag + (subcommand ? " for `tether " + *subcommand + "`" : "") +
                        "; see `tether --help`"};
    }
    if (subcommand) return UsageError{"unexpected argument \"" + flag + "\"; see `tether --help`"};
    if (flag != "serve" && flag != "contexts" && flag != "namespaces" && flag != "services") {
      return UsageError{"unknown command \"" + flag + "\"; see `tether --help`"};
    }
    subcommand = flag;
  }

  if (!subcommand) {
    options.command = Command::Help;
    return options;
  }
  if (*subcommand == "contexts") options.command = Command::Contexts;
  if (*subcommand == "namespaces") options.command = Command::Namespaces;
  if (*subcommand == "services") options.command = Command::Services;
  if (*subcommand != "serve") return options;
  options.command = Command::Serve;
  if (!options.stdio) {
    return UsageError{"`tether serve` needs --stdio (the only transport): tether serve --stdio"};
  }
  return options;
}

}  // namespace tether::cli
