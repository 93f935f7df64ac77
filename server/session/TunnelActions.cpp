// TunnelActions.cpp - SessionMachine's actions on this machine: open the tunnel to the shadow and
// its local proxies, wait for it (and for it to come back after a drop), wait for the local process to
// listen, and stop it all. Expected failures become Outcomes that say what to do.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/kube/Client.hpp"
#include "server/kube/Objects.hpp"
#include "server/kube/Typed.hpp"
#include "server/session/ActionOutcome.hpp"
#include "server/session/LaunchEnv.hpp"
#include "server/session/PortForwardConnector.hpp"
#include "server/session/ShadowSessionImpl.hpp"

namespace tether::session {

namespace asio = boost::asio;

using action::done;
using action::failed;

// What the session's proxies send through the tunnel, and what leaves this machine as it would without
// Tether (through the developer's own proxy, from the environment the debuggee had).
std::shared_ptr<const tunnelclient::OutboundPolicy> ShadowSession::Impl::outboundPolicy() {
  auto policy = std::make_shared<tunnelclient::OutboundPolicy>();
  policy->clusterDomain = request.clusterDomain;
  policy->namespaceName = request.namespaceName;
  std::vector<std::string> addresses;
  if (auto services = kube::listServices(*client, request.namespaceName)) {
    for (const auto& service : services.value()) addresses.push_back(service.clusterIP);
  }
  if (auto ip = kube::podIP(*client, request.namespaceName, shadowName)) addresses.push_back(ip.value());
  // The namespace's pods too: on a multi-node cluster their IPs can lie outside the shadow pod's range.
  if (auto pods = kube::podIPs(*client, request.namespaceName)) {
    for (auto& ip : pods.value()) addresses.push_back(std::move(ip));
  }
  // Nothing learnt (no Services, no permission): every address literal stays the cluster's, as before.
  policy->clusterRanges = tunnelclient::rangesAround(addresses);
  policy->upstream = tunnelclient::developerProxy(request.environment);
  // A VPN or a local network inside the cluster's ranges: there, only the addresses known to be the
  // cluster's go to it, and the rest stays on the developer's network. Say so; this machine's own routes are
  // never touched. (Every range came from a known address, so a narrowed range keeps at least that one.)
  std::ifstream routes("/proc/net/route");
  const std::string routeText((std::istreambuf_iterator<char>(routes)), std::istreambuf_iterator<char>());
  const auto overlaps = tunnelclient::overlapsWithRoutes(policy->clusterRanges, routeText);
  for (const auto& overlap : overlaps) {
    spdlog::warn("event=cluster_range_overlap session={} detail=\"{}\"", request.id, overlap.describe());
    progress("warning: the cluster's " + overlap.describe() +
             "; there, only the namespace's own Service and pod addresses go to the cluster, and other "
             "addresses stay on your network");
  }
  if (!overlaps.empty()) {
    policy->clusterRanges = tunnelclient::narrowedToKnown(policy->clusterRanges, overlaps, addresses);
  }
  std::string ranges;
  for (const auto& range : policy->clusterRanges) ranges += (ranges.empty() ? "" : ",") + range.toString();
  spdlog::info(
      "event=outbound_policy session={} cluster_ranges=\"{}\" developer_proxy={}", request.id, ranges,
      policy->upstream ? policy->upstream->address.host + ":" + std::to_string(policy->upstream->address.port)
                       : std::string("none"));
  return policy;
}

Outcome ShadowSession::Impl::openTunnel() {
  tunnelclient::ClientConfig config;
  for (std::size_t i = 0; planFor(request.mode).reverseListeners && i < exposed.size(); ++i) {
    config.forwards.push_back({static_cast<std::uint16_t>(targetNumbers[i]),
                               static_cast<std::uint16_t>(exposed[i].local), request.proxyProtocol});
  }
  config.connection.peerName = "session-" + request.id;
  config.connection.identity = shadowUid;
  tunnel = std::make_shared<tunnelclient::TunnelClient>(
      executor,
      portForwardConnector(*client, runtime->drivers(), request.namespaceName, shadowName, shadowUid,
                           timings.shadowTunnelPort),
      token, config, *this);
  // Fresh credentials per session: only processes given the launch environment can use its proxies.
  const auto credentials = tunnelclient::ProxyCredentials::generate();
  const tunnelclient::ProxyAuth auth(credentials);
  tunnelclient::ProxyConfig proxyConfig;
  const auto policy = outboundPolicy();
  proxyConfig.policy = policy;
  proxy = std::make_shared<tunnelclient::MixedProxy>(tunnel, auth, proxyConfig);
  std::string error;
  if (!proxy->bind(0, error)) {
    return failed("could not open the local proxy on 127.0.0.1: " + error);
  }
  // For tools that can be pointed at a resolver (dig, nslookup, a resolver setting): names resolve as in a
  // pod.
  dns = std::make_unique<tunnelclient::DnsForwarder>(*tunnel);
  if (!dns->bind(0, error)) return failed("could not open the local DNS forwarder on 127.0.0.1: " + error);
  std::string netnsControl;
  if (request.outbound == Outbound::Netns) {
    netns::NamespaceConfig namespaceConfig;
    const auto& domain = request.clusterDomain;
    namespaceConfig.search = {request.namespaceName + ".svc." + domain, "svc." + domain, domain};
    for (std::size_t i = 0; planFor(request.mode).reverseListeners && i < exposed.size(); ++i) {
      namespaceConfig.inboundPorts.push_back(static_cast<std::uint16_t>(exposed[i].local));
    }
    namespaceConfig.proxy = proxyConfig;  // the namespace's connections take the proxies' routes
    namespaceHost = std::make_shared<netns::NamespaceHost>(tunnel, namespaceConfig);
    netnsControl = netns::privateSocketPath("netns-" + request.id + ".sock", error);
    if (netnsControl.empty() || !namespaceHost->listen(netnsControl, error)) {
      return failed("could not open the network namespace's control socket: " + error);
    }
  }
  std::optional<PreloadEnvInput> preload;
  if (request.outbound == Outbound::Preload) {
    tunnelclient::PreloadConfig preloadConfig;
    const auto& domain = request.clusterDomain;
    preloadConfig.search = {request.namespaceName + ".svc." + domain, "svc." + domain, domain};
    preloadService = std::make_shared<tunnelclient::PreloadService>(tunnel, preloadConfig, proxyConfig);
    PreloadEnvInput shim;
    shim.library = findPreloadLibrary();
    shim.socketPath = netns::privateSocketPath("preload-" + request.id + ".sock", error);
    if (shim.library.empty()) {
      return failed("libtether-preload.so is not installed beside tether, so " +
                        remedy::outbound(request.audience, "preload") +
                        " cannot work here; reinstall Tether, or use " +
                        remedy::outbound(request.audience, "netns") + " or proxy",
                    FailureReason::InvalidOutbound);
    }
    if (shim.socketPath.empty() || !preloadService->listen(shim.socketPath, error)) {
      return failed("could not open the preload shim's socket: " + error);
    }
    shim.port = preloadService->port();
    shim.domains = preloadConfig.search;
    // Programs with their own resolver ask resolv.conf's nameservers; the shim sends them to this port.
    tunnelclient::PreloadDnsConfig dnsConfig;
    std::ifstream resolvConf("/etc/resolv.conf");
    dnsConfig.upstream = tunnelclient::ipv4Nameservers(
        std::string(std::istreambuf_iterator<char>(resolvConf), std::istreambuf_iterator<char>()));
    preloadDns = std::make_shared<tunnelclient::PreloadDns>(preloadService, tunnel, dnsConfig);
    if (!preloadDns->bind(error)) return failed("could not open " + error);
    shim.dnsPort = preloadDns->port();
    shim.nameservers = dnsConfig.upstream;
    for (const auto& range : policy->clusterRanges) {
      if (range.toString().find(':') == std::string::npos) shim.ranges.push_back(range.toString());
    }
    // Nothing learnt about the cluster's addresses: the private ranges, where clusters put them.
    if (shim.ranges.empty()) shim.ranges = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"};
    preload = shim;
  }
  tunnelStarted = true;
  asio::post(executor, [this] {
    if (preloadService) {
      tunnel::spawnLogged(executor, preloadService->serveRequests(), "preload requests");
      tunnel::spawnLogged(executor, preloadService->serveConnections(), "preload connections");
      tunnel::spawnLogged(executor, preloadDns->serve(), "preload dns");
    }
    if (namespaceHost) tunnel::spawnLogged(executor, namespaceHost->serve(), "netns control");
    tunnel::spawnLogged(executor, proxy->serve(), "proxy");
    tunnel::spawnLogged(executor, dns->serveUdp(), "dns udp");
    tunnel::spawnLogged(executor, dns->serveTcp(), "dns tcp");
    asio::co_spawn(executor, tunnel->run(), [this](std::exception_ptr) {
      {
        std::lock_guard guard(mutex);
        tunnelFinished = true;
      }
      wake.notify_all();
    });
  });
  LaunchEnvInput input{proxy->port(), credentials.user + ":" + credentials.password, findJvmAgent(),
                       request.localNames, request.environment};
  {
    std::lock_guard guard(mutex);
    snap.launchEnv = launchEnvironment(input);
    snap.dnsPort = dns->port();
    if (preload) {
      preloadInput = preload;
      for (auto& [key, value] : preloadEnvironment(*preload, request.environment))
        snap.launchEnv[key] = value;
    }
    if (!netnsControl.empty()) {
      // Inside the namespace every connection is caught already, and 127.0.0.1 is the namespace's own:
      // proxy variables would point at nothing there.
      snap.launchEnv = {{"TETHER_NETNS_CONTROL", netnsControl}};
      snap.netnsControl = netnsControl;
      snap.launchWrapper = netns::wrapperCommand(netnsControl);
    }
    envInput = input;
  }
  auto up = awaitTunnel();
  if (up.kind == OutcomeKind::Done && request.mode == Mode::Forward) return openForwards();
  return up;
}

// The tunnel dropped: wait for the client to reconnect, but end the session when that cannot happen any
// more (the shadow pod is gone or finished, the client gave up, or the outage outlasts the bound).
Outcome ShadowSession::Impl::awaitReconnect() {
  const auto now = std::chrono::steady_clock::now();
  if (!reconnecting) {
    reconnecting = true;
    reconnectSince = now;
  }
  auto phase = kube::podPhase(*client, request.namespaceName, shadowName);
  const bool gone = phase.is(kube::ApiReason::NotFound);
  if (gone || (phase && (phase.value() == "Failed" || phase.value() == "Succeeded"))) {
    return failed("the shadow pod " + shadowName +
                  (gone ? " is gone (deleted or evicted)"
                        : " has stopped (it exits after its idle time without a client)") +
                  "; the session ends and the Service is restored");
  }
  if (now - reconnectSince > timings.reconnectGiveUp) {
    return failed(
        "the tunnel could not be re-established for " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timings.reconnectGiveUp).count()) +
        " s; the session ends and the Service is restored");
  }
  const auto result = awaitTunnel();
  if (result.kind == OutcomeKind::Done) {
    reconnecting = false;
    return result;
  }
  bool clientGaveUp = false;
  {
    std::lock_guard guard(mutex);
    clientGaveUp = tunnelFinished;
  }
  if (clientGaveUp) return failed("the tunnel client gave up: " + result.message);
  return Outcome{OutcomeKind::Retry, result.message};
}

// Connected, with every reverse listener bound (or a clear bind error).
Outcome ShadowSession::Impl::awaitTunnel() {
  bool timedOut = false;
  const auto wanted = planFor(request.mode).reverseListeners ? exposed.size() : 0;
  const bool notStopped = waitFor(
      timings.tunnelUpTimeout,
      [&] {
        return tunnelFinished ||
               (tunnelState == tunnelclient::TunnelState::Connected && listenResults.size() >= wanted);
      },
      timedOut);
  if (!notStopped) return failed("stopped while the tunnel was opening");
  std::lock_guard guard(mutex);
  if (tunnelFinished || timedOut) {
    return failed("the tunnel to the shadow pod " + shadowName + " did not come up within " +
                  std::to_string(timings.tunnelUpTimeout.count() / 1000) + " s: " + tunnelDetail);
  }
  for (const auto& result : listenResults) {
    if (result.code != tunnel::Code::Ok) {
      return failed("the shadow could not listen on port " + std::to_string(result.port) + ": " +
                    result.message);
    }
  }
  tunnelLost = false;
  return done();
}

// True when something accepts a TCP connection on 127.0.0.1:<port> now.
static bool listening(int port) {
  boost::asio::io_context probe;
  asio::ip::tcp::socket socket(probe);
  boost::system::error_code ec;
  socket.connect({asio::ip::address_v4::loopback(), static_cast<std::uint16_t>(port)}, ec);
  return !ec;
}

// Whether the local process listens on `port`: on this machine's loopback, or, with outbound netns,
// inside the debuggee's namespace (asked of its wrapper within the probe interval).
bool ShadowSession::Impl::localListening(int port) {
  if (!namespaceHost) return listening(port);
  auto answer = std::make_shared<std::promise<bool>>();
  auto future = answer->get_future();
  asio::co_spawn(executor, namespaceHost->listeningInside(static_cast<std::uint16_t>(port)),
                 [answer](std::exception_ptr error, bool open) { answer->set_value(!error && open); });
  return future.wait_for(timings.namespaceProbeTimeout) == std::future_status::ready && future.get();
}

void ShadowSession::Impl::announcePrepared() {
  if (preparedAnnounced) return;
  preparedAnnounced = true;
  publish();  // state prepared
  SessionSnapshot prepared;
  {
    std::lock_guard guard(mutex);
    prepared = snap;
  }
  observer.onPrepared(prepared);
}

Outcome ShadowSession::Impl::awaitLocalListeners() {
  announcePrepared();
  const auto deadline = std::chrono::steady_clock::now() + timings.localListenTimeout;
  for (const auto& port : exposed) {
    progress("Waiting for your process to listen on 127.0.0.1:" + std::to_string(port.local));
    // No event says "a process started listening"; probe with a pause that a stop interrupts.
    while (!localListening(port.local)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return failed("nothing listens on 127.0.0.1:" + std::to_string(port.local) + " after " +
                      std::to_string(timings.localListenTimeout.count() / 1000) +
                      " s; start your process on that port (or expose the port it uses)");
      }
      bool timedOut = false;
      if (!waitFor(
              timings.localListenProbe, [] { return false; }, timedOut)) {
        return failed("stopped while waiting for the local process");
      }
    }
  }
  return done();
}

void ShadowSession::Impl::stopTunnel() {
  if (!tunnelStarted) return;
  asio::post(executor, [this] {
    if (proxy) proxy->close();
    for (const auto& forwarder : forwarders) forwarder->close();
    if (dns) dns->close();
    if (namespaceHost) namespaceHost->close();
    if (preloadService) preloadService->close();
    if (preloadDns) preloadDns->close();
    if (tunnel) tunnel->stop();
  });
  bool timedOut = false;
  waitFor(
      timings.tunnelStopTimeout, [&] { return tunnelFinished; }, timedOut, /*stoppable=*/false);
  tunnelStarted = false;
}

}  // namespace tether::session
