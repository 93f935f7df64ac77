// Options.cpp - which flags each subcommand takes, parsed by CLI11, and the wording of usage errors.
#include "server/cli/Options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <map>
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
void addGlobalFlags(CLI::App& app, GlobalOptions& global) {
  app.add_option("--log-level", global.logLevel, "trace, debug, info (default), warn, error or off")
      ->check(oneOf(kLogLevels));
  app.add_option("--log-file", global.logFile, "also write the log to PATH")->type_name("PATH");
}

void addClusterFlags(CLI::App& app, ClusterFlags& cluster, bool withNamespace = true) {
  app.add_option("--kubeconfig", cluster.kubeconfig, "the kubeconfig file")->type_name("PATH");
  app.add_option("--context", cluster.context, "the kubeconfig context")->type_name("NAME");
  if (withNamespace)
    app.add_option("-n,--namespace", cluster.namespaceName, "the namespace")->type_name("NS");
}

void addOutput(CLI::App& app, std::string& output) {
  app.add_option("--output", output, "text (default) or json: one JSON event per line")
      ->check(oneOf({"text", "json"}));
}

// What every session command takes besides its own flags.
void addSessionFlags(CLI::App& app, SessionOptions& session) {
  app.add_option("--image", session.image, "the shadow image (default: config file, $TETHER_SHADOW_IMAGE)")
      ->type_name("IMAGE");
  app.add_option(
         "--outbound", session.outbound,
         "how `-- CMD` reaches the namespace: proxy (default: proxy variables, HTTP clients), preload (an "
         "LD_PRELOAD shim as well: any dynamically linked TCP client) or netns (its own rootless network "
         "namespace: every TCP connection and DNS query, any program); auto: the strongest this machine and "
         "CMD "
         "allow")
      ->check(oneOf({"proxy", "preload", "netns", "auto"}));
  app.add_option(
         "--debug-port", session.debugPorts,
         "with --outbound netns: 127.0.0.1:PORT here reaches PORT inside the namespace, where CMD's debug "
         "adapter listens (JDWP, debugpy, dlv, the Node inspector); repeatable")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  addOutput(app, session.output);
  addClusterFlags(app, session.cluster);
}

// --expose 1,2 and --expose 1 --expose 2 alike.
void addExpose(CLI::App& app, std::vector<std::string>& expose, const char* what) {
  // One value per occurrence, so `--expose 1 orders` leaves `orders` to the positional.
  app.add_option("--expose", expose, what)
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

// Each subcommand parses into options of its own type; parseOptions keeps the chosen one.
struct Parser {
  CLI::App app{
      "tether - run and debug one service locally while the rest of its Kubernetes namespace runs "
      "in the cluster",
      "tether"};
  GlobalOptions global;
  bool version = false;
  bool stdio = false;
  std::string inputStyle = "standard";
  std::string staleAfter;
  ServeOptions serve;
  ListOptions contexts, namespaces, services, sessions;
  SessionOptions exchange{{}, {}, "text", {}, ExchangeOptions{}, "proxy", {}};
  SessionOptions connect{{}, {}, "text", {}, ConnectOptions{}, "proxy", {}};
  SessionOptions preview{{}, {}, "text", {}, PreviewOptions{}, "proxy", {}};
  SessionOptions forward{{}, {}, "text", {}, ForwardOptions{}, "proxy", {}};
  SessionOptions meshSession{{}, {}, "text", {}, MeshOptions{}, "proxy", {}};
  CleanOptions clean;
  RecoverOptions recover;
  CompletionOptions completion;
  CompleteOptions complete;
  DoctorOptions doctor;
  std::map<CLI::App*, Command> commands;

  CLI::App* command(const std::string& name, const std::string& description, Command which) {
    auto* sub = app.add_subcommand(name, description);
    addGlobalFlags(*sub, global);
    commands[sub] = which;
    return sub;
  }

  Parser() {
    app.require_subcommand(0, 1);
    app.add_flag("--version", version, "print the version");
    addGlobalFlags(app, global);
    app.footer(std::string("Run `tether COMMAND --help` for a command's flags.\n") + kFooter);

    auto* serveCommand = command(
        "serve", "run the IDE backend: JSON-RPC 2.0 with LSP framing on stdin/stdout", Command::Serve);
    serveCommand->add_flag("--stdio", stdio, "talk on stdin/stdout (the only transport)");
    serveCommand->add_option("--input-style", inputStyle, "standard (LSP framing, default) or delimited")
        ->check(oneOf({"standard", "delimited"}));
    serveCommand->add_flag("--pretty", serve.pretty, "indent the JSON written (for people reading a trace)");

    addClusterFlags(*command("contexts", "list the kubeconfig's contexts (as kubectl config get-contexts)",
                             Command::Contexts),
                    contexts.cluster, false);
    addClusterFlags(*command("namespaces", "list the namespaces of the cluster", Command::Namespaces),
                    namespaces.cluster);
    addClusterFlags(
        *command("services", "list the Services of a namespace and who holds each (exchange, preview)",
                 Command::Services),
        services.cluster);
    command("sessions",
            "list this machine's sessions (every mode), whether their tether still runs, and for how long",
            Command::Sessions);

    auto* exchangeCommand =
        command("exchange",
                "send all traffic of SERVICE to this machine (`-- CMD ARGS...` runs CMD with the session's "
                "environment and ends the session when it exits; Ctrl-C restores the Service)",
                Command::Exchange);
    auto& exchangeFlags = std::get<ExchangeOptions>(exchange.mode);
    exchangeCommand->add_option("SERVICE", exchangeFlags.service, "the Service to exchange")->required();
    addExpose(
        *exchangeCommand, exchangeFlags.expose,
        "LOCAL receives what the Service sends to its port REMOTE (a number or name; 8080 is 8080:8080)");
    exchangeCommand->add_option("--strategy", exchangeFlags.strategy, "selector (default) or scale")
        ->check(oneOf({"selector", "scale"}));
    exchangeCommand->add_flag(
        "--proxy-protocol", exchangeFlags.proxyProtocol,
        "start each forwarded connection with a PROXY protocol v1 line naming the cluster client");
    addSessionFlags(*exchangeCommand, exchange);

    addSessionFlags(*command("connect",
                             "reach the namespace's Services by name from this machine; nothing in the "
                             "cluster changes but a shadow pod (`-- CMD`: run CMD inside the session, e.g. "
                             "`-- bash`)",
                             Command::Connect),
                    connect);

    auto* previewCommand =
        command("preview",
                "create Service NAME (it must not exist) whose port PORT reaches 127.0.0.1:LOCAL; "
                "deleted on stop",
                Command::Preview);
    auto& previewFlags = std::get<PreviewOptions>(preview.mode);
    previewCommand->add_option("NAME", previewFlags.name, "the Service to create")->required();
    addExpose(*previewCommand, previewFlags.expose,
              "LOCAL[:PORT]: the new Service's port PORT (default LOCAL) reaches LOCAL");
    previewCommand
        ->add_option("--type", previewFlags.serviceType, "ClusterIP (default), NodePort or LoadBalancer")
        ->check(oneOf({"ClusterIP", "NodePort", "LoadBalancer"}));
    addSessionFlags(*previewCommand, preview);

    auto* forwardCommand =
        command("forward",
                "127.0.0.1:LOCAL reaches SERVICE's port REMOTE through the Service, each connection "
                "balanced over its ready pods; nothing in the cluster changes but a shadow pod",
                Command::Forward);
    auto& forwardFlags = std::get<ForwardOptions>(forward.mode);
    forwardCommand->add_option("SERVICE", forwardFlags.service, "the Service to reach")->required();
    forwardCommand
        ->add_option("PORTS", forwardFlags.ports, "LOCAL[:REMOTE]... (REMOTE a Service port, default LOCAL)")
        ->required();
    addSessionFlags(*forwardCommand, forward);

    auto* meshCommand =
        command("mesh",
                "share SERVICE with other developers: only its requests that carry your header reach this "
                "machine, everyone else's keep reaching the cluster (HTTP/1.1, WebSocket, h2c and gRPC; `-- "
                "CMD` runs "
                "CMD with the session's environment)",
                Command::Mesh);
    auto& meshFlags = std::get<MeshOptions>(meshSession.mode);
    meshCommand->add_option("SERVICE", meshFlags.service, "the Service to share")->required();
    addExpose(*meshCommand, meshFlags.expose,
              "LOCAL receives the matching requests the Service gets on its port REMOTE (8080 is 8080:8080)");
    meshCommand->add_option("--header", meshFlags.headers, "NAME=VALUE: the header equals VALUE (repeatable)")
        ->type_name("NAME=VALUE");
    meshCommand
        ->add_option("--header-prefix", meshFlags.headerPrefixes,
                     "NAME=PREFIX: the header starts with PREFIX")
        ->type_name("NAME=PREFIX");
    meshCommand
        ->add_option("--header-regex", meshFlags.headerRegexes,
                     "NAME=RE2: the header's whole value matches the RE2 expression")
        ->type_name("NAME=RE2");
    meshCommand
        ->add_option("--baggage", meshFlags.baggage,
                     "KEY=VALUE: the W3C baggage header has member KEY=VALUE (OpenTelemetry apps forward it)")
        ->type_name("KEY=VALUE");
    addSessionFlags(*meshCommand, meshSession);

    auto* cleanCommand = command("clean",
                                 "restore Services and delete objects of sessions whose heartbeat is older "
                                 "than --stale-after",
                                 Command::Clean);
    cleanCommand->add_flag("-A,--all-namespaces", clean.allNamespaces, "every namespace");
    cleanCommand->add_flag("--dry-run", clean.dryRun, "say what would be done, change nothing");
    cleanCommand
        ->add_option("--stale-after", staleAfter,
                     "2m (default), 90s, 1h; 0s: every session not held by a live tether on this machine")
        ->type_name("DURATION");
    addOutput(*cleanCommand, clean.output);
    addClusterFlags(*cleanCommand, clean.cluster);

    auto* recoverCommand =
        command("recover", "restore SERVICE and delete its session's objects, whatever its heartbeat",
                Command::Recover);
    recoverCommand->add_option("SERVICE", recover.service, "the Service to restore")->required();
    addOutput(*recoverCommand, recover.output);
    addClusterFlags(*recoverCommand, recover.cluster);

    auto* completionCommand =
        command("completion",
                "print the shell completion script (bash or zsh): `source <(tether completion "
                "bash)`; Service and namespace names come from the cluster, as kubectl's do",
                Command::Completion);
    completionCommand->add_option("SHELL", completion.shell, "bash or zsh")
        ->required()
        ->check(oneOf({"bash", "zsh"}));

    auto* doctorCommand = command(
        "doctor",
        "`tether doctor outbound [-- CMD]`: start a connect session, fetch a Service with each runtime "
        "found here (curl, Python, Node, the JVM) using only the launch environment, and say what "
        "reaches the cluster, what does not and which --outbound catches it; with CMD, judge that "
        "program too",
        Command::Doctor);
    doctorCommand->add_option("WHAT", doctor.what, "outbound")->required()->check(oneOf({"outbound"}));
    doctorCommand
        ->add_option("--service", doctor.service, "the Service the probes fetch (default: the first)")
        ->type_name("NAME");
    addClusterFlags(*doctorCommand, doctor.cluster);

    // The completion script's helper: names, one per line, nothing on error.
    auto* completeCommand = command("__complete", "", Command::Complete);
    completeCommand->group("");  // hidden
    completeCommand->add_option("WHAT", complete.what)
        ->required()
        ->check(oneOf({"namespaces", "services", "contexts"}));
    addClusterFlags(*completeCommand, complete.cluster);
  }

  // The chosen subcommand's options, moved out.
  Options take(Command which) {
    Options options;
    options.command = which;
    options.global = global;
    switch (which) {
      case Command::Serve:
        options.specific = serve;
        break;
      case Command::Contexts:
        options.specific = contexts;
        break;
      case Command::Namespaces:
        options.specific = namespaces;
        break;
      case Command::Services:
        options.specific = services;
        break;
      case Command::Sessions:
        options.specific = sessions;
        break;
      case Command::Exchange:
        options.specific = std::move(exchange);
        break;
      case Command::Connect:
        options.specific = std::move(connect);
        break;
      case Command::Preview:
        options.specific = std::move(preview);
        break;
      case Command::Forward:
        options.specific = std::move(forward);
        break;
      case Command::Mesh:
        options.specific = std::move(meshSession);
        break;
      case Command::Clean:
        options.specific = clean;
        break;
      case Command::Recover:
        options.specific = recover;
        break;
      case Command::Completion:
        options.specific = completion;
        break;
      case Command::Complete:
        options.specific = complete;
        break;
      case Command::Doctor:
        options.specific = doctor;
        break;
      case Command::Help:
      case Command::Version:
        break;
    }
    return options;
  }
};

// The cluster flags of the chosen command, if it takes them.
const ClusterFlags* clusterFlagsOf(const Options& options) {
  return std::visit(
      [](const auto& specific) -> const ClusterFlags* {
        if constexpr (requires { specific.cluster; }) {
          return &specific.cluster;
        } else {
          return nullptr;
        }
      },
      options.specific);
}

}  // namespace

bool isSessionMode(Command command) {
  return command == Command::Exchange || command == Command::Connect || command == Command::Preview ||
         command == Command::Forward || command == Command::Mesh;
}

const char* modeOf(Command command) {
  switch (command) {
    case Command::Connect:
      return "connect";
    case Command::Preview:
      return "preview";
    case Command::Forward:
      return "forward";
    case Command::Mesh:
      return "mesh";
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
  auto help = [&] {
    Options options;
    options.command = Command::Help;
    options.global = parser.global;
    options.helpText = parser.app.help();  // the chosen subcommand's, when there is one
    return options;
  };
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    parser.app.parse(args);
  } catch (const CLI::CallForHelp&) {
    return help();
  } catch (const CLI::CallForAllHelp&) {
    return help();
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
    Options options;
    options.command = Command::Version;
    return options;
  }
  const auto chosen = parser.app.get_subcommands();
  if (chosen.empty()) {
    if (hasRun) return UsageError{"`--` comes after a command that runs one; see `tether --help`"};
    return help();
  }
  const auto* sub = chosen.front();
  const auto which = parser.commands.at(const_cast<CLI::App*>(sub));
  const std::string name = "`tether " + sub->get_name() + "`";
  if (which == Command::Serve) {
    if (!parser.stdio)
      return UsageError{"`tether serve` needs --stdio (the only transport): tether serve --stdio"};
    parser.serve.delimitedInput = parser.inputStyle == "delimited";
  }
  if (which == Command::Clean && !parser.staleAfter.empty()) {
    const auto seconds = parseDuration(parser.staleAfter);
    if (!seconds) {
      return UsageError{"--stale-after: \"" + parser.staleAfter +
                        "\" is not a duration; write it as 2m, 90s, 1h or 0s"};
    }
    parser.clean.staleAfterSeconds = *seconds;
  }
  auto options = parser.take(which);
  if (hasRun) {
    if (which != Command::Exchange && which != Command::Connect && which != Command::Preview &&
        which != Command::Mesh && which != Command::Doctor) {
      return UsageError{name +
                        " runs no command: `--` and what follows are only for exchange, connect, preview, "
                        "mesh and doctor"};
    }
    if (run.empty()) return UsageError{"`--` must be followed by the command to run"};
    if (which == Command::Doctor) {
      std::get<DoctorOptions>(options.specific).run = std::move(run);
    } else {
      std::get<SessionOptions>(options.specific).run = std::move(run);
    }
  }
  if (const auto* cluster = clusterFlagsOf(options)) {
    for (const auto* flag : {&cluster->kubeconfig, &cluster->context, &cluster->namespaceName}) {
      if (flag->has_value() && (*flag)->empty())
        return UsageError{"an empty value for a cluster flag; name one"};
    }
  }
  if (const auto* session = std::get_if<SessionOptions>(&options.specific);
      session != nullptr && !session->debugPorts.empty() && session->outbound != "netns" &&
      session->outbound != "auto") {
    return UsageError{
        "--debug-port carries a port into CMD's network namespace, so it needs --outbound netns; "
        "without it, CMD's debug adapter already listens on this machine"};
  }
  if (which == Command::Exchange) {
    const auto& exchange = std::get<ExchangeOptions>(options.get<SessionOptions>().mode);
    if (exchange.expose.empty()) {
      return UsageError{"`tether exchange " + exchange.service +
                        "` needs --expose LOCAL[:REMOTE], e.g. --expose 12001:8080 (local 12001 receives "
                        "what the Service sends to its port 8080)"};
    }
  }
  if (which == Command::Mesh) {
    const auto& mesh = std::get<MeshOptions>(options.get<SessionOptions>().mode);
    if (mesh.expose.empty()) {
      return UsageError{"`tether mesh " + mesh.service +
                        "` needs --expose LOCAL[:REMOTE], e.g. --expose 12001:8080 (local 12001 receives the "
                        "matching requests the Service gets on its port 8080)"};
    }
    for (const auto* list : {&mesh.headers, &mesh.headerPrefixes, &mesh.headerRegexes, &mesh.baggage}) {
      for (const auto& pair : *list) {
        const auto equals = pair.find('=');
        if (equals == std::string::npos || equals == 0) {
          const char* flag = list == &mesh.headers          ? "--header"
                             : list == &mesh.headerPrefixes ? "--header-prefix"
                             : list == &mesh.headerRegexes  ? "--header-regex"
                                                            : "--baggage";
          return UsageError{std::string(flag) + " \"" + pair + "\": write NAME=VALUE, e.g. " + flag +
                            " x-dev=alice"};
        }
      }
    }
  }
  if (which == Command::Preview) {
    const auto& preview = std::get<PreviewOptions>(options.get<SessionOptions>().mode);
    if (preview.expose.empty()) {
      return UsageError{"`tether preview " + preview.name +
                        "` needs --expose LOCAL[:PORT], e.g. --expose 12001:80 (the new Service's port 80 "
                        "reaches local 12001)"};
    }
  }
  return options;
}

}  // namespace tether::cli
