// Session.hpp - what every session is, whatever its mode: the request that starts it (SessionSpec), the
// bounds it waits under (SessionTimings), what front ends see of it (SessionSnapshot), whom it tells
// (SessionObserver), and the interface front ends hold (Session). Modes are listed in Mode.hpp; the one
// driver that runs them all is ShadowSession.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocol/mesh/Matcher.hpp"
#include "server/session/Expose.hpp"
#include "server/session/Mode.hpp"
#include "server/session/SessionMachine.hpp"

namespace tether::kube {
class Client;
}

namespace tether::session {
class SessionRuntime;
}

namespace tether::session {

enum class Strategy { Selector, Scale };
const char* toString(Strategy strategy);

// Every bound a session waits under, named in one place.
struct SessionTimings {
  std::chrono::milliseconds heartbeatInterval{std::chrono::seconds(30)};
  // Each session renews up to this fraction of the interval early (a random amount fixed per session), so
  // sessions started together drift apart instead of renewing in a burst that opens many API connections.
  double heartbeatJitter = 0.2;
  std::chrono::milliseconds shadowReadyTimeout{std::chrono::seconds(60)};
  std::chrono::milliseconds tunnelUpTimeout{std::chrono::seconds(20)};
  std::chrono::milliseconds workloadReadyTimeout{std::chrono::seconds(120)};  // strategy scale, on restore
  // A tunnel down this long ends the session (the shadow's idle TTL, 10 min, ends it anyway).
  std::chrono::milliseconds reconnectGiveUp{std::chrono::minutes(5)};
  std::chrono::milliseconds restoreBackoff{1000};       // times the attempt number, between restore attempts
  std::chrono::milliseconds heartbeatRetryPause{5000};  // after a failed renewal
  std::size_t maxReassertsPerMinute = 5;
  // With SessionSpec::awaitLocal: how long the local process may take to listen before traffic moves.
  std::chrono::milliseconds localListenTimeout{std::chrono::seconds(60)};
  std::chrono::milliseconds localListenProbe{100};  // between connect attempts (no event says "listening")
  // One such probe inside an outbound-netns namespace: the wrapper's dial (NamespaceConfig::dialTimeout)
  // and a margin.
  std::chrono::milliseconds namespaceProbeTimeout{6000};
  // How long a stop waits for the tunnel client to close before it deletes the shadow pod regardless.
  std::chrono::milliseconds tunnelStopTimeout{std::chrono::seconds(5)};
  // After a session ended: how long its last handlers (closing sockets, a cancelled watch) may take to run
  // on the shared I/O threads before its state is freed. Past it the state is kept (and logged), never
  // freed under a handler.
  std::chrono::milliseconds ioDrainTimeout{std::chrono::seconds(10)};
  // Mesh: a lease lives this long unless renewed; the session renews it every leaseRenew (and its shadow
  // pod's heartbeat every heartbeatInterval). The router's control port, in the router pod.
  std::chrono::milliseconds leaseTtl{std::chrono::seconds(15)};
  std::chrono::milliseconds leaseRenew{std::chrono::seconds(5)};
  std::chrono::milliseconds meshControlTimeout{std::chrono::seconds(10)};  // one exchange with the router
  std::uint16_t routerControlPort = 7702;
  std::uint16_t shadowTunnelPort = 7700;  // inside the shadow pod, moved when a target port uses it
  std::uint16_t shadowReadyPort = 7701;
};

struct SessionSpec {
  std::string id;  // empty: a fresh random id
  Mode mode = Mode::Exchange;
  std::string namespaceName;
  // exchange and forward: the Service; preview: the Service to create; connect: empty.
  std::string service;
  // exchange, preview: local port <- Service port; forward: local port -> Service port.
  std::vector<ExposeSpec> expose;
  Strategy strategy = Strategy::Selector;  // exchange only
  std::string serviceType = "ClusterIP";   // preview only: ClusterIP, NodePort or LoadBalancer
  std::string image;  // the shadow image, already resolved (flag > config > env > default)
  std::string owner;  // user@host
  std::string contextName;
  std::vector<std::string> localNames;             // this host's names (NO_PROXY)
  std::map<std::string, std::string> environment;  // the launching process's (to extend JDK_JAVA_OPTIONS ...)
  // Tell the observer when the launch environment is known (onPrepared), then wait until every local port
  // accepts connections before moving the Service's traffic: for `tether exchange ... -- CMD`, which
  // starts CMD with that environment, so the cluster's clients never meet a port nobody listens on.
  bool awaitLocal = false;
  // Each connection forwarded to a local port starts with a PROXY protocol v1 line naming the cluster client.
  bool proxyProtocol = false;
  // Mesh: the requests this session takes (all must match), checked by the mode factory.
  std::vector<mesh::Matcher> matchers;
  // How the local process reaches the namespace; Netns also opens the control socket its wrapper joins.
  Outbound outbound = Outbound::Proxy;
  // The cluster's DNS domain: the pod's search path in a namespace's resolv.conf is built from it.
  std::string clusterDomain = "cluster.local";
  // Whose words the session's messages use: the command line's commands and flags, or an IDE's plain ones
  // (Remedies.hpp).
  Audience audience = Audience::CommandLine;
  // The ids of the other sessions this backend runs when the start began.
  std::vector<std::string> runningHere;
};

struct ExposedView {
  int local = 0;
  int servicePort = 0;
  int targetPort = 0;  // the number the shadow listens on
};

// What a session is, for front ends (Session in PROTOCOL.md).
struct SessionSnapshot {
  std::string id;
  SessionState state = SessionState::Starting;
  Mode mode = Mode::Exchange;
  Strategy strategy = Strategy::Selector;
  std::string contextName;
  std::string namespaceName;
  std::string service;
  std::string owner;
  std::string startedAt;  // server clock, RFC 3339
  std::string message;
  Blame blame = Blame::User;                   // whose the failure is, once failed
  FailureReason reason = FailureReason::None;  // what resolves it, once failed, when one thing does
  bool undone = true;  // once failed or stopped: false when the undo left something (see the message)
  std::string shadowPod;
  std::vector<ExposedView> exposed;
  std::vector<mesh::Matcher> matchers;           // mesh: the requests the session takes
  std::map<std::string, std::string> launchEnv;  // empty until the tunnel is up
  int dnsPort = 0;  // the local DNS forwarder on 127.0.0.1 (0 until the tunnel is up)
  Outbound outbound = Outbound::Proxy;
  // Netns: the Unix socket `tether netns-exec --control PATH -- CMD` joins (empty until the tunnel is up).
  std::string netnsControl;
  // Netns: what goes before the command to run it in the namespace (`tether netns-exec --control P --`).
  std::vector<std::string> launchWrapper;
  std::vector<std::pair<std::string, double>> phases;  // action -> milliseconds, in order (benchmarks)
};

class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  virtual void onProgress(const SessionSnapshot& session, const std::string& step) = 0;
  virtual void onStateChanged(const SessionSnapshot& session) = 0;
  // The tunnel is up and the launch environment known; traffic has not moved yet (awaitLocal only).
  virtual void onPrepared(const SessionSnapshot& /*session*/) {}
};

// A session as its holder sees it: started on construction, stopped on request or on destruction.
class Session {
 public:
  virtual ~Session() = default;
  virtual const std::string& id() const = 0;
  // Blocks until the session is active, or has finished (failed or stopped before becoming active).
  virtual SessionSnapshot waitStarted() = 0;
  // Asks to stop; returns at once. A stop during start undoes what was done so far.
  virtual void requestStop() = 0;
  // Blocks until everything is undone.
  virtual SessionSnapshot waitFinished() = 0;
  virtual SessionSnapshot snapshot() const = 0;
  // The launch environment for a debuggee whose own environment is `baseEnv` (each holder of a shared
  // session gets its own: NO_PROXY and JDK_JAVA_OPTIONS extend what that debuggee has). Empty until the
  // tunnel is up.
  virtual std::map<std::string, std::string> launchEnvFor(
      const std::map<std::string, std::string>& baseEnv) const = 0;
};

// Starts a session of `spec.mode` (the mode factory: one place maps a mode to its implementation) on the
// backend's shared threads.
std::unique_ptr<Session> startSession(std::shared_ptr<SessionRuntime> runtime,
                                      std::shared_ptr<kube::Client> client, SessionSpec spec,
                                      SessionTimings timings, SessionObserver& observer);

}  // namespace tether::session
