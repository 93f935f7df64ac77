// OptionsTests.cpp - command-line parsing and its error wording.
#include <catch2/catch.hpp>

#include "server/cli/Options.hpp"

using namespace tether::cli;

namespace {
Options ok(std::vector<std::string> args) {
  auto parsed = parseOptions(args);
  REQUIRE(std::holds_alternative<Options>(parsed));
  return std::get<Options>(parsed);
}
std::string error(std::vector<std::string> args) {
  auto parsed = parseOptions(args);
  REQUIRE(std::holds_alternative<UsageError>(parsed));
  return std::get<UsageError>(parsed).message;
}
}  // namespace

TEST_CASE("serve --stdio with its flags", "[cli]") {
  const auto options = ok({"serve", "--stdio", "--log-level", "debug", "--log-file=/tmp/x.log",
                           "--input-style=delimited", "--pretty"});
  CHECK(options.command == Command::Serve);
  CHECK(options.global.logLevel == "debug");
  CHECK(options.global.logFile == "/tmp/x.log");
  CHECK(options.get<ServeOptions>().delimitedInput);
  CHECK(options.get<ServeOptions>().pretty);
}

TEST_CASE("version, help and no arguments", "[cli]") {
  CHECK(ok({"--version"}).command == Command::Version);
  CHECK(ok({"serve", "--help"}).command == Command::Help);
  CHECK(ok({}).command == Command::Help);
}

TEST_CASE("bad arguments name what is wrong and what to do", "[cli]") {
  CHECK(error({"serve"}) == "`tether serve` needs --stdio (the only transport): tether serve --stdio");
  CHECK(error({"frobnicate"}) == "unknown command \"frobnicate\"; see `tether --help`");
  CHECK(error({"serve", "--stdio", "--bogus"}) ==
        "unknown flag --bogus for `tether serve`; see `tether serve --help`");
  CHECK(error({"--log-level", "loud"}) ==
        "--log-level: \"loud\" is not one of trace, debug, info, warn, error, off; see `tether --help`");
  CHECK(error({"serve", "--stdio", "--log-file"}) == "--log-file needs a value; see `tether serve --help`");
  CHECK(error({"serve", "--stdio", "--input-style=xml"}) ==
        "--input-style: \"xml\" is not one of standard, delimited; see `tether serve --help`");
  // Global flags work before the command and after it.
  CHECK(ok({"--log-level", "debug", "serve", "--stdio"}).global.logLevel == "debug");
  CHECK(ok({"serve", "--stdio", "--log-level=error"}).global.logLevel == "error");
}

TEST_CASE("exchange takes a Service, --expose flags and the command after --", "[cli][exchange]") {
  const auto options = ok({"exchange", "orders", "-n", "demo", "--expose", "12001:8080", "--expose=9000",
                           "--strategy", "scale", "--image", "reg/shadow:2", "--output", "json", "--", "node",
                           "server.js", "--port", "12001"});
  CHECK(options.command == Command::Exchange);
  const auto& session = options.get<SessionOptions>();
  const auto& exchange = std::get<ExchangeOptions>(session.mode);
  CHECK(exchange.service == "orders");
  CHECK(session.cluster.namespaceName == "demo");
  CHECK(exchange.expose == std::vector<std::string>{"12001:8080", "9000"});
  CHECK(exchange.strategy == "scale");
  CHECK_FALSE(exchange.proxyProtocol);
  CHECK(session.image == "reg/shadow:2");
  CHECK(session.output == "json");
  // Flags after `--` belong to the command, not to tether.
  CHECK(session.run == std::vector<std::string>{"node", "server.js", "--port", "12001"});
}

TEST_CASE("exchange refuses what it cannot run, saying how to write it", "[cli][exchange]") {
  CHECK(error({"exchange", "--expose", "8080"}) ==
        "`tether exchange` needs SERVICE; see `tether exchange --help`");
  CHECK(error({"exchange", "orders"}).find("--expose LOCAL[:REMOTE]") != std::string::npos);
  CHECK(error({"exchange", "orders", "--expose", "1", "--strategy", "swap"}) ==
        "--strategy: \"swap\" is not one of selector, scale; see `tether exchange --help`");
  CHECK(error({"exchange", "orders", "--expose", "1", "--"}).find("followed by the command") !=
        std::string::npos);
  CHECK(error({"exchange", "orders", "--expose", "1", "--output", "yaml"}).find("is not one of text, json") !=
        std::string::npos);
  // Session flags do not leak into other commands.
  CHECK(error({"services", "--expose", "1"}).find("unknown flag --expose") != std::string::npos);
}

TEST_CASE("clean and recover", "[cli][clean]") {
  const auto clean = ok({"clean", "-A", "--dry-run", "--stale-after", "90s"});
  CHECK(clean.command == Command::Clean);
  CHECK(clean.get<CleanOptions>().allNamespaces);
  CHECK(clean.get<CleanOptions>().dryRun);
  CHECK(clean.get<CleanOptions>().staleAfterSeconds == 90);
  CHECK(ok({"clean"}).get<CleanOptions>().staleAfterSeconds == 120);
  CHECK(ok({"clean", "--stale-after=0s"}).get<CleanOptions>().staleAfterSeconds == 0);
  CHECK(error({"clean", "--stale-after", "soon"}).find("not a duration") != std::string::npos);
  const auto recover = ok({"recover", "orders", "-n", "demo"});
  CHECK(recover.command == Command::Recover);
  CHECK(recover.get<RecoverOptions>().service == "orders");
  CHECK(recover.get<RecoverOptions>().cluster.namespaceName == "demo");
  CHECK(error({"recover"}) == "`tether recover` needs SERVICE; see `tether recover --help`");
}

TEST_CASE("durations as kubectl writes them", "[cli][clean]") {
  CHECK(parseDuration("0s") == 0);
  CHECK(parseDuration("2m") == 120);
  CHECK(parseDuration("1h30m") == 5400);
  CHECK(parseDuration("1m30s") == 90);
  CHECK_FALSE(parseDuration(""));
  CHECK_FALSE(parseDuration("5"));
  CHECK_FALSE(parseDuration("m"));
  CHECK_FALSE(parseDuration("3d"));
  CHECK_FALSE(parseDuration("99999999h"));
}

TEST_CASE("connect, preview and forward take what their mode needs", "[cli][modes]") {
  const auto connect = ok({"connect", "-n", "team", "--", "bash", "-l"});
  CHECK(connect.command == Command::Connect);
  CHECK(std::string(modeOf(connect.command)) == "connect");
  CHECK(connect.get<SessionOptions>().run == std::vector<std::string>{"bash", "-l"});
  CHECK(std::holds_alternative<ConnectOptions>(connect.get<SessionOptions>().mode));

  const auto preview = ok({"preview", "orders-v2", "--expose", "12001:80", "--type", "NodePort"});
  CHECK(preview.command == Command::Preview);
  const auto& previewFlags = std::get<PreviewOptions>(preview.get<SessionOptions>().mode);
  CHECK(previewFlags.name == "orders-v2");
  CHECK(previewFlags.expose == std::vector<std::string>{"12001:80"});
  CHECK(previewFlags.serviceType == "NodePort");

  const auto forward = ok({"forward", "orders", "18080:80", "18081:http", "-n", "team"});
  CHECK(forward.command == Command::Forward);
  const auto& forwardFlags = std::get<ForwardOptions>(forward.get<SessionOptions>().mode);
  CHECK(forwardFlags.service == "orders");
  CHECK(forwardFlags.ports == std::vector<std::string>{"18080:80", "18081:http"});
  CHECK(forward.get<SessionOptions>().cluster.namespaceName == "team");
  CHECK(isSessionMode(forward.command));
  CHECK_FALSE(isSessionMode(Command::Clean));
}

TEST_CASE("connect, preview and forward refuse what does not fit, naming the flag", "[cli][modes]") {
  CHECK(error({"connect", "orders"}) ==
        "unexpected argument \"orders\" for `tether connect`; see `tether connect --help`");
  CHECK(error({"connect", "--expose", "1"}) ==
        "unknown flag --expose for `tether connect`; see `tether connect --help`");
  CHECK(error({"preview", "x", "--expose", "1", "--type", "Cluster"}) ==
        "--type: \"Cluster\" is not one of ClusterIP, NodePort, LoadBalancer; see `tether preview --help`");
  CHECK(error({"preview", "x"}).find("needs --expose LOCAL[:PORT]") != std::string::npos);
  CHECK(error({"forward", "orders"}) == "`tether forward` needs PORTS; see `tether forward --help`");
  CHECK(error({"forward"}) == "`tether forward` needs SERVICE; see `tether forward --help`");
  CHECK(error({"forward", "orders", "1", "--", "x"}).find("runs no command") != std::string::npos);
  CHECK(error({"exchange", "orders", "--expose", "1", "--type", "NodePort"}) ==
        "unknown flag --type for `tether exchange`; see `tether exchange --help`");
}

TEST_CASE("each command has its own --help, and completion its shells", "[cli]") {
  const auto exchange = ok({"exchange", "--help"});
  CHECK(exchange.command == Command::Help);
  CHECK(exchange.helpText.find("Usage: tether exchange [OPTIONS] SERVICE") != std::string::npos);
  CHECK(exchange.helpText.find("--strategy") != std::string::npos);
  CHECK(exchange.helpText.find("--type") == std::string::npos);
  const auto preview = ok({"preview", "-h"});
  CHECK(preview.helpText.find("--type") != std::string::npos);
  CHECK(ok({"--help"}).helpText.find("forward") != std::string::npos);
  CHECK(ok({"completion", "zsh"}).get<CompletionOptions>().shell == "zsh");
  CHECK(error({"completion", "fish"}) ==
        "SHELL: \"fish\" is not one of bash, zsh; see `tether completion --help`");
  const auto complete = ok({"__complete", "services", "-n", "demo"});
  CHECK(complete.command == Command::Complete);
  CHECK(complete.get<CompleteOptions>().what == "services");
  CHECK(complete.get<CompleteOptions>().cluster.namespaceName == "demo");
  CHECK(ok({"--help"}).helpText.find("__complete") == std::string::npos);  // hidden
}

// A test name must not start with "--": ctest passes it to the test binary, which would read it as a flag.
TEST_CASE("outbound netns and the debugger's ports it carries in (--outbound, --debug-port)",
          "[cli][netns]") {
  const auto options = ok({"connect", "--outbound", "netns", "--debug-port", "5005", "--debug-port", "5678",
                           "--", "java", "-jar", "app.jar"});
  const auto& session = options.get<SessionOptions>();
  CHECK(session.outbound == "netns");
  CHECK(session.debugPorts == std::vector<int>{5005, 5678});
  CHECK(ok({"connect"}).get<SessionOptions>().outbound == "proxy");

  CHECK(error({"connect", "--outbound", "tun"}).find("--outbound") != std::string::npos);
  // auto may become netns, so a debugger's port is accepted with it.
  CHECK(ok({"connect", "--outbound", "auto", "--debug-port", "5005"}).get<SessionOptions>().outbound ==
        "auto");
  CHECK(error({"exchange", "orders", "--expose", "1", "--debug-port", "5005"}) ==
        "--debug-port carries a port into CMD's network namespace, so it needs --outbound netns; without it, "
        "CMD's debug adapter already listens on this machine");
  CHECK(error({"connect", "--outbound", "netns", "--debug-port", "70000"}).find("--debug-port") !=
        std::string::npos);
}

TEST_CASE("doctor outbound takes a Service to fetch and the program to judge", "[cli][doctor]") {
  const auto options =
      ok({"doctor", "outbound", "-n", "shop", "--service", "orders", "--", "./server", "-v"});
  CHECK(options.command == Command::Doctor);
  const auto& doctor = options.get<DoctorOptions>();
  CHECK(doctor.what == "outbound");
  CHECK(doctor.service == "orders");
  CHECK(doctor.cluster.namespaceName == "shop");
  CHECK(doctor.run == std::vector<std::string>{"./server", "-v"});
  CHECK(error({"doctor", "inbound"}).find("WHAT") != std::string::npos);
  CHECK(error({"doctor"}).find("WHAT") != std::string::npos);
}
