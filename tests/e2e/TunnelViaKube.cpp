// TunnelViaKube.cpp - the tunnel client attached to a shadow pod through the kube client's port-forward,
// with reverse forwards, the SOCKS5 proxy and the DNS forwarder: what a session will run, driven by the
// e2e tests on kubesim. Prints `state=...`, `listener ...` and `serving ...` lines for the test to follow.
//
//   TETHER_TOKEN=... tunnel_via_kube --kubeconfig F --pod NS/NAME --tunnel-port 7700
//                    [--uid UID] [--reverse REMOTE:LOCAL]... [--socks PORT] [--dns PORT]
// With --uid, the client pins the pod as a session does: another pod of that name is refused.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdlib>
#include <iostream>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/kube/Client.hpp"
#include "server/session/PortForwardConnector.hpp"
#include "server/tunnel/DnsForwarder.hpp"
#include "server/tunnel/Socks5Proxy.hpp"
#include "support/exec/ThreadPool.hpp"

using namespace tether;

namespace {
class PrintingObserver final : public tunnelclient::TunnelObserver {
 public:
  void onState(tunnelclient::TunnelState state, const std::string& detail) override {
    std::cout << "state=" << tunnelclient::toString(state) << " detail=\"" << detail << "\"" << std::endl;
  }
  void onListener(const tunnel::ListenResult& result) override {
    std::cout << "listener port=" << result.port << " code=\"" << tunnel::toString(result.code) << "\""
              << std::endl;
  }
};
}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, pod, uid;
  std::uint16_t tunnelPort = 0, socksPort = 0, dnsPort = 0;
  std::vector<tunnelclient::Forward> forwards;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--kubeconfig") kubeconfig = value;
    if (flag == "--pod") pod = value;
    if (flag == "--uid") uid = value;
    if (flag == "--tunnel-port") tunnelPort = static_cast<std::uint16_t>(std::stoi(value));
    if (flag == "--socks") socksPort = static_cast<std::uint16_t>(std::stoi(value));
    if (flag == "--dns") dnsPort = static_cast<std::uint16_t>(std::stoi(value));
    if (flag == "--reverse") {
      const auto colon = value.find(':');
      forwards.push_back({static_cast<std::uint16_t>(std::stoi(value.substr(0, colon))),
                          static_cast<std::uint16_t>(std::stoi(value.substr(colon + 1)))});
    }
  }
  const char* token = std::getenv("TETHER_TOKEN");
  const auto slash = pod.find('/');
  if (token == nullptr || kubeconfig.empty() || slash == std::string::npos || tunnelPort == 0) {
    std::cerr << "usage: TETHER_TOKEN=... tunnel_via_kube --kubeconfig F --pod NS/NAME --tunnel-port P ...\n";
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_logger_mt("tunnel-via-kube"));

  kube::ConfigOverrides overrides{kubeconfig, std::nullopt, std::nullopt};
  kube::Client client(kube::resolveContext(
      kube::loadKubeconfig(overrides, kube::ConfigEnvironment::fromProcess()), overrides));
  boost::asio::io_context ioc(1);
  auto executor = ioc.get_executor();
  tunnelclient::ClientConfig config;
  config.forwards = forwards;
  config.connection.peerName = "tunnel-via-kube";
  config.connection.identity = uid;
  PrintingObserver observer;
  support::ThreadPool blocking;  // the connector's blocking calls, off the I/O thread
  auto shared = std::make_shared<tunnelclient::TunnelClient>(
      executor,
      session::portForwardConnector(client, blocking, pod.substr(0, slash), pod.substr(slash + 1), uid,
                                    tunnelPort),
      token, config, observer);
  auto& tunnelClient = *shared;
  // This driver's SOCKS proxy is for the test alone, which runs as the only user: no credentials.
  auto socksProxy = std::make_shared<tunnelclient::Socks5Proxy>(shared, tunnelclient::ProxyAuth::none());
  auto& socks = *socksProxy;
  tunnelclient::DnsForwarder dns(tunnelClient);
  std::string error;
  if (socksPort != 0) {
    if (!socks.bind(socksPort, error)) return 2;
    std::cout << "serving what=socks5 port=" << socks.port() << std::endl;
    tunnel::spawnLogged(executor, socks.serve(), "socks5 proxy");
  }
  if (dnsPort != 0) {
    if (!dns.bind(dnsPort, error)) return 2;
    std::cout << "serving what=dns port=" << dns.port() << std::endl;
    tunnel::spawnLogged(executor, dns.serveUdp(), "dns udp");
    tunnel::spawnLogged(executor, dns.serveTcp(), "dns tcp");
  }
  boost::asio::co_spawn(executor, tunnelClient.run(), [&](std::exception_ptr) {
    socks.close();
    dns.close();
    ioc.stop();
  });
  boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) tunnelClient.stop();
  });
  ioc.run();
  return tunnelClient.state() == tunnelclient::TunnelState::Failed ? 3 : 0;
}
