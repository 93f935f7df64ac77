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
  tether services -n NS     list the Services of a namespace and who holds each (exchange, preview)
  tether sessions           list this machine's sessions (every mode), whether their tether still runs,
                            and for how long
  tether exchange SERVICE --expose LOCAL[:REMOTE] [-n NS] [--strategy selector|scale] [--image IMAGE]
                 [--proxy-protocol] [--output text|json] [-- CMD ARGS...]
                            send all traffic of SERVICE to this machine: LOCAL receives what the Service
                            sends to its port REMOTE (a number or name; `--expose 8080` is 8080:8080;
                            repeat or comma-separate for more ports). With `-- CMD`, runs CMD with the
                            session's proxy environment and ends the session when CMD exits. Ctrl-C stops
                            and restores the Service. --proxy-protocol starts each forwarded connection
                            with a PROXY protocol v1 line naming the cluster client (it arrives from
                            127.0.0.1 otherwise); only for apps that expect it.
  tether connect [-n NS] [--image IMAGE] [--output text|json] [-- CMD ARGS...]
                            reach the namespace's Services by name from this machine, changing nothing in
                            the cluster but a shadow pod: with `-- CMD`, CMD runs with the session's proxy
                            environment (`tether connect -- bash` gives a shell where `curl http://orders`
                            works); without it, the environment to use is printed
  tether preview NAME --expose LOCAL[:PORT] [-n NS] [--type ClusterIP|NodePort|LoadBalancer]
                 [--image IMAGE] [--output text|json] [-- CMD ARGS...]
                            create Service NAME (it must not exist) whose port PORT (default LOCAL) reaches
                            127.0.0.1:LOCAL, so the cluster can try this machine's version beside its own;
                            the Service is deleted on stop
  tether forward SERVICE LOCAL[:REMOTE]... [-n NS] [--image IMAGE] [--output text|json]
                            127.0.0.1:LOCAL reaches SERVICE's port REMOTE (default LOCAL) through the
                            Service, each connection balanced over its ready pods as in the cluster;
                            nothing in the cluster changes but a shadow pod
  tether clean [-n NS | -A] [--dry-run] [--stale-after DURATION]
                            restore Services and delete objects of sessions whose heartbeat is older than
                            DURATION (default 2m; 0s: every session not held by a live tether on this machine)
  tether recover SERVICE [-n NS]
                            restore SERVICE and delete its session's objects, whatever its heartbeat
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

std::optional<int> parseDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t digits = i;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == i || digits >= text.size() || digits - i > 6) return std::nullopt;
    const long number = std::stol(text.substr(i, digits - i));
    const char unit = text[digits];
    if (unit == 's') {
      total += number;
    } else if (unit == 'm') {
      total += number * 60;
    } else if (unit == 'h') {
      total += number * 3600;
    } else {
      return std::nullopt;
    }
    i = digits + 1;
  }
  if (total > 365L * 24 * 3600) return std::nullopt;
  return static_cast<int>(total);
}

bool isSessionMode(Command command) {
  return command == Command::Exchange || command == Command::Connect || command == Command::Preview ||
         command == Command::Forward;
}

const char* modeOf(Command command) {
  switch (command) {
    case Command::Connect:
      return "connect";
    case Command::Preview:
      return "preview";
    case Command::Forward:
      return "forward";
    default:
      return "exchange";
  }
}

namespace {
bool takesTarget(const std::optional<std::string>& subcommand) {
  return subcommand == "exchange" || subcommand == "recover" || subcommand == "preview" ||
         subcommand == "forward";
}
bool runsSession(const std::optional<std::string>& subcommand) {
  return subcommand == "exchange" || subcommand == "connect" || subcommand == "preview" ||
         subcommand == "forward";
}
bool isSessionCommand(const std::optional<std::string>& subcommand) {
  return runsSession(subcommand) || subcommand == "recover" || subcommand == "clean";
}
}  // namespace

std::variant<Options, UsageError> parseOptions(const std::vector<std::string>& args) {
  Options options;
  std::optional<std::string> subcommand;

  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--" && runsSession(subcommand) && subcommand != "forward") {
      options.run.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      if (options.run.empty()) return UsageError{"`--` must be followed by the command to run"};
      break;
    }
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
    const bool exposes = subcommand == "exchange" || subcommand == "preview";
    if (((flag == "--expose" && exposes) || (flag == "--strategy" && subcommand == "exchange") ||
         (flag == "--type" && subcommand == "preview") || flag == "--image") &&
        runsSession(subcommand)) {
      auto text = value();
      if (auto* error = std::get_if<UsageError>(&text)) return *error;
      const auto& given = std::get<std::string>(text);
      if (flag == "--expose") options.expose.push_back(given);
      if (flag == "--image") options.image = given;
      if (flag == "--strategy") {
        if (given != "selector" && given != "scale") {
          return UsageError{"--strategy: unknown strategy \"" + given +
                            "\"; use selector (default) or scale"};
        }
        options.strategy = given;
      }
      if (flag == "--type") {
        if (given != "ClusterIP" && given != "NodePort" && given != "LoadBalancer") {
          return UsageError{"--type: unknown Service type \"" + given +
                            "\"; use ClusterIP (default), NodePort or LoadBalancer"};
        }
        options.serviceType = given;
      }
      continue;
    }
    if (flag == "--output" && isSessionCommand(subcommand)) {
      auto text = value();
      if (auto* error = std::get_if<UsageError>(&text)) return *error;
      options.output = std::get<std::string>(text);
      if (options.output != "text" && options.output != "json") {
        return UsageError{"--output: unknown format \"" + options.output + "\"; use text or json"};
      }
      continue;
    }
    if (flag == "--proxy-protocol" && subcommand == "exchange") {
      options.proxyProtocol = true;
      continue;
    }
    if (flag == "--dry-run" && subcommand == "clean") {
      options.dryRun = true;
      continue;
    }
    if ((flag == "-A" || flag == "--all-namespaces") && subcommand == "clean") {
      options.allNamespaces = true;
      continue;
    }
    if (flag == "--stale-after" && subcommand == "clean") {
      auto text = value();
      if (auto* error = std::get_if<UsageError>(&text)) return *error;
      const auto seconds = parseDuration(std::get<std::string>(text));
      if (!seconds) {
        return UsageError{"--stale-after: \"" + std::get<std::string>(text) +
                          "\" is not a duration; write it as 2m, 90s, 1h or 0s"};
      }
      options.staleAfterSeconds = *seconds;
      continue;
    }
    if (!flag.empty() && flag[0] == '-') {
      return UsageError{"unknown flag " + flag + (subcommand ? " for `tether " + *subcommand + "`" : "") +
                        "; see `tether --help`"};
    }
    if (takesTarget(subcommand) && options.target.empty()) {
      options.target = flag;
      continue;
    }
    if (subcommand == "forward") {  // LOCAL[:REMOTE]..., as `kubectl port-forward` takes them
      options.expose.push_back(flag);
      continue;
    }
    if (subcommand) return UsageError{"unexpected argument \"" + flag + "\"; see `tether --help`"};
    if (flag != "serve" && flag != "contexts" && flag != "namespaces" && flag != "services" &&
        flag != "exchange" && flag != "connect" && flag != "preview" && flag != "forward" &&
        flag != "clean" && flag != "recover" && flag != "sessions") {
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
  if (*subcommand == "connect") options.command = Command::Connect;
  if (*subcommand == "sessions") options.command = Command::Sessions;
  if (takesTarget(subcommand)) {
    options.command = *subcommand == "exchange"  ? Command::Exchange
                      : *subcommand == "preview" ? Command::Preview
                      : *subcommand == "forward" ? Command::Forward
                                                 : Command::Recover;
    const auto usage = *subcommand == "exchange"  ? " SERVICE --expose LOCAL[:REMOTE]"
                       : *subcommand == "preview" ? " NAME --expose LOCAL[:PORT]"
                       : *subcommand == "forward" ? " SERVICE LOCAL[:REMOTE]..."
                                                  : " SERVICE";
    if (options.target.empty()) {
      return UsageError{"`tether " + *subcommand + "` needs the Service's name: tether " + *subcommand +
                        usage};
    }
    if (options.command == Command::Exchange && options.expose.empty()) {
      return UsageError{
          "`tether exchange " + options.target +
          "` needs --expose LOCAL[:REMOTE], e.g. --expose 12001:8080 (local 12001 receives what "
          "the Service sends to its port 8080)"};
    }
    if (options.command == Command::Preview && options.expose.empty()) {
      return UsageError{"`tether preview " + options.target +
                        "` needs --expose LOCAL[:PORT], e.g. --expose 12001:80 (the new Service's port 80 "
                        "reaches local 12001)"};
    }
    if (options.command == Command::Forward && options.expose.empty()) {
      return UsageError{"`tether forward " + options.target +
                        "` needs at least one LOCAL[:REMOTE], e.g. 18080:80 (local 18080 reaches the "
                        "Service's port 80)"};
    }
  }
  if (*subcommand == "clean") options.command = Command::Clean;
  if (*subcommand != "serve") return options;
  options.command = Command::Serve;
  if (!options.stdio) {
    return UsageError{"`tether serve` needs --stdio (the only transport): tether serve --stdio"};
  }
  return options;
}

}  // namespace tether::cli
