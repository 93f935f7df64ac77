// Options.cpp - which flags each subcommand takes, parsed by CLI11, and the wording of usage errors.
#include "server/cli/Options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <sstream>

namespace tether::cli {

namespace {

const std::vector<std::string> kLogLevels{"trace", "debug", "info", "warn", "error", "off"};

constexpr const char* kFooter =
    "Cluster flags (as kubectl): --kubeconfig PATH (default $KUBECONFIG, else ~/.kube/config), --context "
    "NAME\n"
    "(default: its current-context), -n/--namespace NS (default: the context's, else \"default\").\n"
    "Global flags: --log-level trace|debug|info|warn|error|off (logs go to stderr), --log-file PATH.\n"
    "stdout of `tether serve --stdio` carries protocol messages only (protocol/PROTOCOL.md).";

// A value among `choices`, refused with all of them named: "--strategy: "swap" is not one of selector,
// scale".
CLI::Validator oneOf(std::vector<std::string> choices) {
  std::string names;
  for (const auto& choice : choices) names += (names.empty() ? "" : ", ") + choice;
  return CLI::Validator(
      [choices, names](std::string& value) -> std::string {
        if (std::find(choices.begin(), choices.end(), value) != choices.end()) return {};
        return "\"" + value + "\" is not one of " + names;
      },
      "{" + names + "}");
}

// What every subcommand (and tether itself) accepts: the log flags.
void addGlobalFlags(CLI::App& app, Options& options) {
  app.add_option("--log-level", options.logLevel, "trace, debug, info (default), warn, error or off")
      ->check(oneOf(kLogLevels));
  app.add_option("--log-file", options.logFile, "also write the log to PATH")->type_name("PATH");
}

void addClusterFlags(CLI::App& app, Options& options, bool withNamespace = true) {
  app.add_option("--kubeconfig", options.kubeconfig, "the kubeconfig file")->type_name("PATH");
  app.add_option("--context", options.context, "the kubeconfig context")->type_name("NAME");
  if (withNamespace)
    app.add_option("-n,--namespace", options.namespaceName, "the namespace")->type_name("NS");
}

void addOutput(CLI::App& app, Options& options) {
  app.add_option("--output", options.output, "text (default) or json: one JSON event per line")
      ->check(oneOf({"text", "json"}));
}

void addImage(CLI::App& app, Options& options) {
  app.add_option("--image", options.image, "the shadow image (default: config file, $TETHER_SHADOW_IMAGE)")
      ->type_name("IMAGE");
}

// --expose 1,2 and --expose 1 --expose 2 alike.
void addExpose(CLI::App& app, Options& options, const char* what) {
  // One value per occurrence, so `--expose 1 orders` leaves `orders` to the positional.
  app.add_option("--expose", options.expose, what)
      ->type_name("LOCAL[:REMOTE]")
      ->delimiter(',')
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// `-- CMD ARGS...` belongs to the command run with the session, not to tether: split off before parsing.
std::vector<std::string> splitRun(std::vector<std::string>& args, bool& hasRun) {
  const auto dashes = std::find(args.begin(), args.end(), "--");
  hasRun = dashes != args.end();
  if (!hasRun) return {};
  std::vector<std::string> run(dashes + 1, args.end());
  args.erase(dashes, args.end());
  return run;
}

// What went wrong in our words (CLI11's where they already name the flag and the allowed values), then
// where to read more.
std::string usageError(const CLI::App& app, const CLI::ParseError& error) {
  std::string command = "tether";
  for (const auto* sub : app.get_subcommands()) command += " " + sub->get_name();
  std::string message = error.what();
  if (!message.empty() && message.back() == '\n') message.pop_back();
  const auto extras = message.find("not expected: ");
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr && extras != std::string::npos) {
    // "The following arguments were not expected: 1 --expose": name the flag if there is one.
    std::istringstream words(message.substr(extras + 14));
    std::string first, flag;
    for (std::string word; words >> word;) {
      if (first.empty()) first = word;
      if (flag.empty() && word.rfind('-', 0) == 0) flag = word;
    }
    message = flag.empty() ? "unexpected argument \"" + first + "\" for `" + command + "`"
                           : "unknown flag " + flag + " for `" + command + "`";
  } else if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
    const auto is = message.find(" is required");
    if (is != std::string::npos) message = "`" + command + "` needs " + message.substr(0, is);
  } else if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr) {
    const auto colon = message.find(':');
    if (colon != std::string::npos && message.rfind("--", 0) == 0)
      message = message.substr(0, colon) + " needs a value";
  }
  return message + "; see `" + command + " --help`";
}

struct Parser {
  CLI::App app{
      "tether - run and debug one service locally while the rest of its Kubernetes namespace runs "
      "in the cluster",
      "tether"};
  Options options;
  bool version = false;
  std::string staleAfter;
  std::string inputStyle = "standard";
  std::map<CLI::App*, Command> commands;

  CLI::App* command(const std::string& name, const std::string& description, Command which) {
    auto* sub = app.add_subcommand(name, description);
    addGlobalFlags(*sub, options);
    commands[sub] = which;
    return sub;
  }

  Parser() {
    app.require_subcommand(0, 1);
    app.add_flag("--version", version, "print the version");
    addGlobalFlags(app, options);
    app.footer(std::string("Run `tether COMMAND --help` for a command's flags.\n") + kFooter);

    auto* serve = command("serve", "run the IDE backend: JSON-RPC 2.0 with LSP framing on stdin/stdout",
                          Command::Serve);
    serve->add_flag("--stdio", options.stdio, "talk on stdin/stdout (the only transport)");
    serve->add_option("--input-style", inputStyle, "standard (LSP framing, default) or delimited")
        ->check(oneOf({"standard", "delimited"}));
    serve->add_flag("--pretty", options.pretty, "indent the JSON written (for people reading a trace)");

    addClusterFlags(*command("contexts", "list the kubeconfig's contexts (as kubectl config get-contexts)",
                             Command::Contexts),
                    options, false);
    addClusterFlags(*command("namespaces", "list the namespaces of the cluster", Command::Namespaces),
                    options);
    addClusterFlags(
        *command("services", "list the Services of a namespace and who holds each (exchange, preview)",
                 Command::Services),
        options);
    command("sessions",
            "list this machine's sessions (every mode), whether their tether still runs, and for how long",
            Command::Sessions);

    auto* exchange =
        command("exchange",
                "send all traffic of SERVICE to this machine (`-- CMD ARGS...` runs CMD with the session's "
                "environment and ends the session when it exits; Ctrl-C restores the Service)",
                Command::Exchange);
    exchange->add_option("SERVICE", options.target, "the Service to exchange")->required();
    addExpose(
        *exchange, options,
        "LOCAL receives what the Service sends to its port REMOTE (a number or name; 8080 is 8080:8080)");
    exchange->add_option("--strategy", options.strategy, "selector (default) or scale")
        ->check(oneOf({"selector", "scale"}));
    exchange->add_flag(
        "--proxy-protocol", options.proxyProtocol,
        "start each forwarded connection with a PROXY protocol v1 line naming the cluster client");
    addImage(*exchange, options);
    addOutput(*exchange, options);
    addClusterFlags(*exchange, options);

    auto* connect =
        command("connect",
                "reach the namespace's Services by name from this machine; nothing in the cluster "
                "changes but a shadow pod (`-- CMD`: run CMD inside the session, e.g. `-- bash`)",
                Command::Connect);
    addImage(*connect, options);
    addOutput(*connect, options);
    addClusterFlags(*connect, options);

    auto* preview =
        command("preview",
                "create Service NAME (it must not exist) whose port PORT reaches 127.0.0.1:LOCAL; "
                "deleted on stop",
                Command::Preview);
    preview->add_option("NAME", options.target, "the Service to create")->required();
    addExpose(*preview, options, "LOCAL[:PORT]: the new Service's port PORT (default LOCAL) reaches LOCAL");
    preview->add_option("--type", options.serviceType, "ClusterIP (default), NodePort or LoadBalancer")
        ->check(oneOf({"ClusterIP", "NodePort", "LoadBalancer"}));
    addImage(*preview, options);
    addOutput(*preview, options);
    addClusterFlags(*preview, options);

    auto* forward =
        command("forward",
                "127.0.0.1:LOCAL reaches SERVICE's port REMOTE through the Service, each connection "
                "balanced over its ready pods; nothing in the cluster changes but a shadow pod",
                Command::Forward);
    forward->add_option("SERVICE", options.target, "the Service to reach")->required();
    forward->add_option("PORTS", options.expose, "LOCAL[:REMOTE]... (REMOTE a Service port, default LOCAL)")
        ->required();
    addImage(*forward, options);
    addOutput(*forward, options);
    addClusterFlags(*forward, options);

    auto* clean = command("clean",
                          "restore Services and delete objects of sessions whose heartbeat is older than "
                          "--stale-after",
                          Command::Clean);
    clean->add_flag("-A,--all-namespaces", options.allNamespaces, "every namespace");
    clean->add_flag("--dry-run", options.dryRun, "say what would be done, change nothing");
    clean
        ->add_option("--stale-after", staleAfter,
                     "2m (default), 90s, 1h; 0s: every session not held by a live tether on this machine")
        ->type_name("DURATION");
    addOutput(*clean, options);
    addClusterFlags(*clean, options);

    auto* recover =
        command("recover", "restore SERVICE and delete its session's objects, whatever its heartbeat",
                Command::Recover);
    recover->add_option("SERVICE", options.target, "the Service to restore")->required();
    addOutput(*recover, options);
    addClusterFlags(*recover, options);

    auto* completion = command("completion",
                               "print the shell completion script (bash or zsh): `source <(tether completion "
                               "bash)`; Service and namespace names come from the cluster, as kubectl's do",
                               Command::Completion);
    completion->add_option("SHELL", options.shell, "bash or zsh")->required()->check(oneOf({"bash", "zsh"}));

    // The completion script's helper: names, one per line, nothing on error.
    auto* complete = command("__complete", "", Command::Complete);
    complete->group("");  // hidden
    complete->add_option("WHAT", options.completeWhat)
        ->required()
        ->check(oneOf({"namespaces", "services", "contexts"}));
    addClusterFlags(*complete, options);
  }
};

}  // namespace

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

std::string helpText() {
  Parser parser;
  return parser.app.help();
}

std::variant<Options, UsageError> parseOptions(const std::vector<std::string>& given) {
  auto args = given;
  bool hasRun = false;
  auto run = splitRun(args, hasRun);
  Parser parser;
  auto& options = parser.options;
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    parser.app.parse(args);
  } catch (const CLI::CallForHelp&) {
    options.command = Command::Help;
    options.helpText = parser.app.help();  // the chosen subcommand's, when there is one
    return options;
  } catch (const CLI::CallForAllHelp&) {
    options.command = Command::Help;
    options.helpText = parser.app.help();
    return options;
  } catch (const CLI::ExtrasError& error) {
    // A first word that is no command, said as kubectl says it.
    if (parser.app.get_subcommands().empty() && !given.empty() && given.front().rfind('-', 0) != 0) {
      return UsageError{"unknown command \"" + given.front() + "\"; see `tether --help`"};
    }
    return UsageError{usageError(parser.app, error)};
  } catch (const CLI::ParseError& error) {
    return UsageError{usageError(parser.app, error)};
  }
  if (parser.version) {
    options.command = Command::Version;
    return options;
  }
  const auto chosen = parser.app.get_subcommands();
  if (chosen.empty()) {
    if (hasRun) return UsageError{"`--` comes after a command that runs one; see `tether --help`"};
    options.command = Command::Help;
    options.helpText = parser.app.help();
    return options;
  }
  const auto* sub = chosen.front();
  options.command = parser.commands.at(const_cast<CLI::App*>(sub));
  const std::string name = "`tether " + sub->get_name() + "`";
  if (hasRun) {
    if (options.command != Command::Exchange && options.command != Command::Connect &&
        options.command != Command::Preview) {
      return UsageError{name +
                        " runs no command: `--` and what follows are only for exchange, connect and "
                        "preview"};
    }
    if (run.empty()) return UsageError{"`--` must be followed by the command to run"};
    options.run = std::move(run);
  }
  for (const auto* flag : {&options.kubeconfig, &options.context, &options.namespaceName}) {
    if (flag->has_value() && (*flag)->empty())
      return UsageError{"an empty value for a cluster flag; name one"};
  }
  if (options.command == Command::Serve) {
    if (!options.stdio)
      return UsageError{"`tether serve` needs --stdio (the only transport): tether serve --stdio"};
    options.delimitedInput = parser.inputStyle == "delimited";
  }
  if (options.command == Command::Clean && !parser.staleAfter.empty()) {
    const auto seconds = parseDuration(parser.staleAfter);
    if (!seconds) {
      return UsageError{"--stale-after: \"" + parser.staleAfter +
                        "\" is not a duration; write it as 2m, 90s, 1h or 0s"};
    }
    options.staleAfterSeconds = *seconds;
  }
  if ((options.command == Command::Exchange || options.command == Command::Preview) &&
      options.expose.empty()) {
    return UsageError{
        options.command == Command::Exchange
            ? "`tether exchange " + options.target +
                  "` needs --expose LOCAL[:REMOTE], e.g. --expose 12001:8080 (local 12001 receives "
                  "what the Service sends to its port 8080)"
            : "`tether preview " + options.target +
                  "` needs --expose LOCAL[:PORT], e.g. --expose 12001:80 (the new Service's port 80 "
                  "reaches local 12001)"};
  }
  return options;
}

}  // namespace tether::cli
