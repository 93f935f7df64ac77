// KubeProbe.cpp - a command-line driver of server/kube for the integration tests against kubesim.
//
// Each command performs real client calls and prints JSON lines, so tests/kube/test_kube_client.py can
// assert what a caller of the client observes. Errors print {"error": {...}} and exit 3.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <random>

#include "server/kube/Client.hpp"
#include "server/kube/Watch.hpp"
#include "tests/kube/ProbePortForward.hpp"

using namespace tether::kube;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

const std::map<std::string, ResourceType> kTypes = {{"pods", resources::pods},
                                                    {"services", resources::services},
                                                    {"configmaps", resources::configmaps},
                                                    {"secrets", resources::secrets},
                                                    {"deployments", resources::deployments},
                                                    {"namespaces", resources::namespaces},
                                                    {"endpoints", resources::endpoints}};

int printError(const ApiError& error) {
  std::cout << json::serialize(json::object{{"error", json::object{{"reason", toString(error.reason)},
                                                                   {"status", error.httpStatus},
                                                                   {"message", error.message}}}})
            << std::endl;
  return 3;
}

int print(const Result<json::value>& result) {
  if (!result) return printError(result.error());
  std::cout << json::serialize(result.value()) << std::endl;
  return 0;
}

PatchType patchType(const std::string& name) {
  if (name == "json") return PatchType::Json;
  if (name == "strategic") return PatchType::StrategicMerge;
  if (name == "apply") return PatchType::Apply;
  return PatchType::Merge;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

// Benchmark: get, list and merge-patch latency against one ConfigMap.
int requestLatency(Client& client, const std::string& ns, int count) {
  client.createSync(resources::configmaps, ns,
                    json::parse(R"({"metadata":{"name":"bench-requests"},"data":{"n":"0"}})"));
  std::map<std::string, std::vector<double>> samples;
  auto time = [&](const char* name, auto call) {
    const auto start = std::chrono::steady_clock::now();
    auto result = call();
    if (!result) throw std::runtime_error(result.error().describe());
    samples[name].push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  };
  for (int i = 0; i < count; ++i) {
    time("get", [&] { return client.getSync(resources::configmaps, ns, "bench-requests"); });
    time("list", [&] { return client.listSync(resources::configmaps, ns); });
    time("patch", [&] {
      return client.patchSync(resources::configmaps, ns, "bench-requests", PatchType::Merge,
                              R"({"data":{"n":")" + std::to_string(i) + R"("}})");
    });
  }
  json::object out;
  for (const auto& [name, values] : samples) {
    out[name] = json::object{{"p50_ms", percentile(values, 0.5)}, {"p99_ms", percentile(values, 0.99)}};
  }
  std::cout << json::serialize(out) << std::endl;
  return 0;
}

int watchEvents(Client& client, const ResourceType& type, const std::string& ns, int count,
                int timeoutSeconds, int serverTimeout, const std::string& startRv) {
  asio::io_context io;
  WatchConfig config;
  config.serverTimeout = std::chrono::seconds(serverTimeout);
  config.startResourceVersion = startRv;
  int seen = 0;
  std::shared_ptr<Watch> watch;
  asio::steady_timer deadline(io, std::chrono::seconds(timeoutSeconds));
  WatchHandlers handlers;
  handlers.onSync = [&](const std::vector<json::value>& items) {
    std::cout << json::serialize(json::object{{"sync", items.size()}}) << std::endl;
  };
  handlers.onEvent = [&](const WatchEvent& event) {
    static const char* names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};
    if (event.type == WatchEventType::Bookmark) return;
    std::cout << json::serialize(json::object{{"type", names[static_cast<int>(event.type)]},
                                              {"name", event.object.at("metadata").at("name")}})
              << std::endl;
    if (++seen >= count) {
      watch->stop();
      deadline.cancel();
    }
  };
  handlers.onError = [](const ApiError& error) {
    std::cerr << "watch error: " << error.describe() << std::endl;
  };
  handlers.onResume = [](int resumes) {
    std::cout << json::serialize(json::object{{"resumed", resumes}}) << std::endl;
  };
  watch = Watch::start(client, type, ns, config, handlers, io.get_executor());
  // Tells the test the watch is established (after the first sync or, when resuming, at once).
  std::cout << json::serialize(json::object{{"started", true}}) << std::endl;
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (!ec) watch->stop();
  });
  io.run();
  std::cout << json::serialize(json::object{
                   {"events", seen}, {"resumes", watch->resumes()}, {"relists", watch->relists()}})
            << std::endl;
  return seen >= count ? 0 : 4;
}

int waitReady(Client& client, const std::string& ns, const std::string& pod, int timeoutMs) {
  asio::io_context io;
  Informer informer(client, resources::pods, ns, WatchConfig{}, io.get_executor());
  int code = 0;
  informer.waitFor(
      pod,
      [](const json::value& object) {
        const auto* status = object.at("status").as_object().if_contains("conditions");
        if (status == nullptr || !status->is_array()) return false;
        for (const auto& condition : status->get_array()) {
          if (condition.at("type") == "Ready" && condition.at("status") == "True") return true;
        }
        return false;
      },
      std::chrono::milliseconds(timeoutMs),
      [&](Result<json::value> result) {
        code = result ? 0 : printError(result.error());
        if (result) std::cout << json::serialize(json::object{{"ready", pod}}) << std::endl;
        // Stop the watch and let io.run() drain its cancelled transfer, so nothing outlives the context.
        informer.watch().stop();
      });
  io.run();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr: stdout carries the JSON lines the tests read.
  spdlog::set_default_logger(spdlog::stderr_color_mt("probe"));
  spdlog::set_level(std::getenv("KUBE_PROBE_DEBUG") != nullptr ? spdlog::level::debug : spdlog::level::warn);
  std::vector<std::string> args(argv + 1, argv + argc);
  ConfigOverrides overrides;
  while (!args.empty() && args[0].rfind("--", 0) == 0) {
    if (args[0] == "--kubeconfig") overrides.kubeconfig = args[1];
    if (args[0] == "--context") overrides.context = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty()) {
    std::cerr << "usage: kube_probe [--kubeconfig F] [--context C] COMMAND ARGS...\n";
    return 2;
  }
  std::unique_ptr<Client> client;
  try {
    client = std::make_unique<Client>(
        resolveContext(loadKubeconfig(overrides, ConfigEnvironment::fromProcess()), overrides));
  } catch (const ConfigError& error) {
    std::cout << json::serialize(
                     json::object{{"error", json::object{{"reason", "Config"}, {"message", error.what()}}}})
              << std::endl;
    return 3;
  }
  const auto& command = args[0];
  auto type = [&](std::size_t index) { return kTypes.at(args.at(index)); };
  if (command == "get") return print(client->getSync(type(1), args.at(2), args.at(3)));
  if (command == "list") {
    ListOptions options;
    if (args.size() > 3) options.labelSelector = args[3];
    return print(client->listSync(type(1), args.at(2), options));
  }
  if (command == "create") return print(client->createSync(type(1), args.at(2), json::parse(args.at(3))));
  if (command == "replace")
    return print(client->replaceSync(type(1), args.at(2), args.at(3), json::parse(args.at(4))));
  if (command == "patch") {
    return print(client->patchSync(type(1), args.at(2), args.at(3), patchType(args.at(4)), args.at(5),
                                   args.size() > 6 ? args[6] : std::string()));
  }
  if (command == "delete") {
    DeleteOptions options;
    if (args.size() > 4) options.propagationPolicy = args[4];
    if (args.size() > 5) options.preconditionResourceVersion = args[5];
    return print(client->removeSync(type(1), args.at(2), args.at(3), options));
  }
  if (command == "watch") {
    return watchEvents(*client, type(1), args.at(2), std::stoi(args.at(3)), std::stoi(args.at(4)),
                       args.size() > 5 ? std::stoi(args[5]) : 300, args.size() > 6 ? args[6] : std::string());
  }
  if (command == "wait-ready") return waitReady(*client, args.at(1), args.at(2), std::stoi(args.at(3)));
  if (const int code = probe::portForwardCommand(*client, args); code >= 0) return code;
  if (command == "requests") return requestLatency(*client, args.at(1), std::stoi(args.at(2)));
  std::cerr << "unknown command " << command << "\n";
  return 2;
}
