// Main.cpp - tether-shadow: flags, structured logs on stdout, signals, and one thread running the agent.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdlib>
#include <iostream>
#include <vector>

#include "protocol/tunnel/Frame.hpp"
#include "shadow/Agent.hpp"
#include "shadow/Options.hpp"
#include "shadow/router/Router.hpp"

#ifndef TETHER_SHADOW_VERSION
#define TETHER_SHADOW_VERSION "0.0.0"
#endif

namespace {

// logfmt lines (ts=… level=… event=… key=value) on stdout: the container runtime collects stdout, and
// `kubectl logs` users and log pipelines can both read it.
void setUpLogging(const std::string& level) {
  auto logger = spdlog::stdout_logger_mt("tether-shadow");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

// The router role: serve until SIGTERM, then stop accepting and give connections in progress the drain
// bound to finish (Kubernetes sends SIGTERM after removing the pod from the Service's endpoints).
int runRouter(const tether::shadow::Options& options) {
  boost::asio::io_context ioc(1);
  tether::shadow::router::Router router(ioc, options.router);
  if (!router.start()) return 1;
  boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
  boost::asio::steady_timer drain(ioc);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("event=router_stopping signal={} drain_ms={}", signal == SIGTERM ? "SIGTERM" : "SIGINT",
                 options.drainTimeout.count());
    router.stop();
    drain.expires_after(options.drainTimeout);
    drain.async_wait([&](const boost::system::error_code& waitError) {
      if (!waitError) ioc.stop();
    });
  });
  ioc.run();
  spdlog::info("event=exit code=0");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed =
      tether::shadow::parseOptions(args, std::getenv("TETHER_SHADOW_TOKEN"), std::getenv("TETHER_POD_UID"));
  if (!parsed.options) {
    std::cerr << "tether-shadow: " << parsed.error << "\n" << tether::shadow::usage();
    return 2;
  }
  const auto& options = *parsed.options;
  if (options.help) {
    std::cout << tether::shadow::usage();
    return 0;
  }
  if (options.version) {
    std::cout << "tether-shadow " << TETHER_SHADOW_VERSION << " (tunnel protocol "
              << tether::tunnel::kProtocolVersion << ")\n";
    return 0;
  }
  setUpLogging(options.logLevel);
  if (options.role == tether::shadow::Role::Router) return runRouter(options);
  boost::asio::io_context ioc(1);
  tether::shadow::Agent agent(ioc, options);
  if (!agent.start()) return agent.exitCode();
  boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) agent.shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  ioc.run();
  spdlog::info("event=exit code={}", agent.exitCode());
  return agent.exitCode();
}
