// HostMain.cpp - tether-netns-host: the session's end of `--outbound netns` as a stand-alone process,
// attached to a tunnel agent at a plain TCP address (benchmarks), as tether-tunnel is for the proxies.
//
//   TETHER_TOKEN=... tether-netns-host --connect 127.0.0.1:7700 --control /run/user/0/tether/bench.sock
//   tether netns-exec --control /run/user/0/tether/bench.sock -- wrk http://10.253.0.1:8080/
//
// Every TCP connection of a command run by `tether netns-exec` then goes through the tunnel (the agent
// dials its destination), and its DNS asks the agent's resolver. Prints `serving what=netns path=...` and
// `state=<name>` lines on stdout; logs go to stderr.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/netns/NamespaceHost.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace {

using namespace tether::tunnelclient;

class PrintingObserver final : public TunnelObserver {
 public:
  void onState(TunnelState state, const std::string& detail) override {
    std::cout << "state=" << toString(state) << " detail=\"" << detail << "\"" << std::endl;
  }
  void onListener(const tether::tunnel::ListenResult&) override {}
};

int usage(const std::string& why) {
  std::cerr << "tether-netns-host: " << why << "\n"
            << "usage: TETHER_TOKEN=... tether-netns-host --connect HOST:PORT --control PATH\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host, control;
  unsigned long port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    const auto colon = value.rfind(':');
    if (flag == "--connect" && colon != std::string::npos) {
      host = value.substr(0, colon);
      port = std::strtoul(value.c_str() + colon + 1, nullptr, 10);
    } else if (flag == "--control") {
      control = value;
    } else {
      return usage("bad flag or value: " + flag + " " + value);
    }
  }
  const char* token = std::getenv("TETHER_TOKEN");
  if (host.empty() || port == 0 || port > 65535 || control.empty()) {
    return usage("--connect HOST:PORT and --control PATH are required");
  }
  if (token == nullptr) return usage("TETHER_TOKEN is not set");
  auto logger = spdlog::stderr_logger_mt("tether-netns-host");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);

  boost::asio::io_context ioc(1);
  auto executor = ioc.get_executor();
  ClientConfig config;
  config.connection.peerName = "tether-netns-host";
  PrintingObserver observer;
  auto tunnel = std::make_shared<TunnelClient>(
      executor, tcpConnector(executor, host, static_cast<std::uint16_t>(port), config.connectTimeout), token,
      config, observer);
  tether::netns::NamespaceConfig namespaceConfig;
  namespaceConfig.search = {"svc.cluster.local", "cluster.local"};
  auto namespaceHost = std::make_shared<tether::netns::NamespaceHost>(tunnel, namespaceConfig);
  std::string error;
  if (!namespaceHost->listen(control, error)) {
    spdlog::error("event=bind_failed what=netns error=\"{}\"", error);
    return 2;
  }
  std::cout << "serving what=netns path=" << control << std::endl;
  tether::tunnel::spawnLogged(executor, namespaceHost->serve(), "netns control");
  bool failed = false;
  boost::asio::co_spawn(executor, tunnel->run(), [&](std::exception_ptr e) {
    failed = e != nullptr || tunnel->state() == TunnelState::Failed;
    namespaceHost->close();
    ioc.stop();
  });
  boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) tunnel->stop();
  });
  ioc.run();
  return failed ? 3 : 0;
}
