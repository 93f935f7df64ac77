// ShadowSessionImpl.hpp - internal to server/session: the state a session's driver keeps, shared by the
// driver loop (ShadowSession.cpp) and the actions it runs: the common ones (ShadowActions.cpp,
// TunnelActions.cpp) and each mode's own (ExchangeActions.cpp, PreviewActions.cpp, ForwardActions.cpp).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>

#include "server/kube/Objects.hpp"
#include "server/netns/NamespaceHost.hpp"
#include "server/session/LaunchEnv.hpp"
#include "server/session/ServerClock.hpp"
#include "server/session/SessionRuntime.hpp"
#include "server/session/ShadowSession.hpp"
#include "server/tunnel/DnsForwarder.hpp"
#include "server/tunnel/MixedProxy.hpp"
#include "server/tunnel/PortForwarder.hpp"
#include "server/tunnel/PreloadDns.hpp"
#include "server/tunnel/PreloadService.hpp"
#include "server/tunnel/TunnelClient.hpp"
#include "support/exec/SteppedTask.hpp"
#include "support/exec/WorkCount.hpp"

namespace tether::session {

struct ShadowSession::Impl final : tunnelclient::TunnelObserver {
  Impl(std::shared_ptr<SessionRuntime> runtime, std::shared_ptr<kube::Client> client, SessionSpec request,
       SessionTimings timings, SessionObserver& observer);

  // --- the driver (ShadowSession.cpp) ---
  // One step of the driver (support::SteppedTask): runs actions on a pool thread until the session is
  // active with nothing to do (it parks until its next heartbeat) or has finished.
  support::SteppedTask::Next step();
  support::SteppedTask::Next stepGuarded();
  // Turns what woke the driver into the machine's next action; false (and when to look again) when
  // nothing did.
  bool nextWhileActive(Action& next, std::chrono::steady_clock::time_point& resumeBy);
  void afterActivated();
  // Resumes a parked driver; any thread may call it.
  void wakeDriver() { driver->wake(); }
  void publish(bool force = false, bool fromDriver = true);
  void progress(const std::string& step);

  std::shared_ptr<const tunnelclient::OutboundPolicy> outboundPolicy();
  bool localListening(int port);

  // --- the actions; each returns how it went ---
  // ShadowActions.cpp: what every mode does.
  Outcome execute(ActionKind kind);
  Outcome checkAccess();
  Outcome createShadow();
  Outcome awaitShadowReady();
  Outcome awaitPodReady(const std::string& pod, const std::string& what);
  Outcome renewHeartbeat();     // where the mode keeps it
  Outcome renewPodHeartbeat();  // on the shadow pod (modes that hold no Service; mesh)
  Outcome deleteShadow();
  void renewIfDue();
  // Why a read found nothing: the namespace is missing (nullopt when it exists), or the Service is.
  std::optional<Outcome> namespaceMissing();
  Outcome serviceNotFound(const std::string& where);
  // The resolved ports, as front ends see them.
  void publishExposed();
  // ExchangeActions.cpp
  Outcome readService();
  Outcome lock();
  Outcome pointSelector();
  Outcome renewServiceHeartbeat();
  Outcome restoreService();
  // MeshActions.cpp
  Outcome readMeshService();
  Outcome joinMesh();
  Outcome enterMesh();  // MoveTraffic: the router (if not there yet), the selector, the leases
  Outcome installRouter(const kube::ServiceSummary& service);
  Outcome putLeases(bool renewal);
  Outcome renewMesh();
  Outcome reinstallRouterIfGone(const Outcome& failedRenewal);
  Outcome leaveMesh();
  Outcome removeMeshObjects(const std::string& router);
  std::string describeMatchers() const;
  // PreviewActions.cpp
  Outcome checkPreviewName();
  Outcome createPreviewService();
  Outcome renewPreviewHeartbeat();
  Outcome deletePreviewService();
  // ForwardActions.cpp
  Outcome readForwardService();
  Outcome openForwards();
  void onForwardResult(std::uint16_t port, const std::string& error);
  // TunnelActions.cpp
  Outcome openTunnel();
  Outcome awaitTunnel();
  Outcome awaitReconnect();
  Outcome awaitLocalListeners();
  // With awaitLocal: tells the observer the launch environment, once (before traffic moves, if it does).
  void announcePrepared();
  void stopTunnel();

  // The inbox the driver sleeps on, `ready` checked under the lock. A stoppable wait (the start) returns
  // false when a stop arrived first; the undo's waits are not stoppable, only bounded.
  template <typename Ready>
  bool waitFor(std::chrono::milliseconds bound, Ready ready, bool& timedOut, bool stoppable = true);

  // TunnelObserver (I/O thread).
  void onState(tunnelclient::TunnelState state, const std::string& detail) override;
  void onListener(const tunnel::ListenResult& result) override;
  void onLocalConnect(std::uint16_t port, const std::string& error) override;

  std::shared_ptr<kube::Client> client;
  SessionSpec request;
  SessionTimings timings;
  SessionObserver& observer;
  SessionMachine machine;
  ServerClock serverClock;  // driver thread only

  // Guarded by `mutex`: the inbox and the published snapshot.
  std::mutex publishMutex;  // taken before `mutex`, held while observers hear a state change
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopAsked = false;
  bool tunnelLost = false;
  bool selectorOverwritten = false;
  bool tunnelFinished = false;
  tunnelclient::TunnelState tunnelState = tunnelclient::TunnelState::Connecting;
  std::string tunnelDetail;
  std::vector<tunnel::ListenResult> listenResults;
  std::optional<kube::Result<kube::PodReadiness>> podResult;
  std::optional<kube::Result<int>> workloadResult;
  std::map<std::uint16_t, std::string> localProblems;    // local port -> why nothing answered there
  std::map<std::uint16_t, std::string> forwardProblems;  // forward: local port -> why its last dial failed
  bool started = false;
  bool finished = false;
  SessionSnapshot snap;
  std::optional<LaunchEnvInput> envInput;  // once the tunnel is up: for each holder's launch environment
  std::string machineMessage;              // the machine's message as last read by the driver
  SessionState publishedState = SessionState::Starting;
  std::string publishedMessage;

  // Driver only (one step at a time; the pool hand-over and `mutex` order its steps).
  Action action{ActionKind::Finished};
  bool begun = false;
  bool stopDelivered = false;
  bool activatedAnnounced = false;  // the Activated action's prelude ran; the driver waits for what is next
  kube::ServiceSummary original;    // the Service as it was before anything changed
  std::vector<ExposedPort> exposed;
  std::vector<int> targetNumbers;               // per exposed port: what the shadow listens on
  std::map<std::string, int> originalReplicas;  // strategy scale
  std::string shadowName, secretName, token;
  std::string shadowUid;  // the shadow pod this session created; the tunnel accepts no other
  bool tunnelStarted = false;
  std::chrono::steady_clock::time_point lastHeartbeat{};
  std::chrono::milliseconds heartbeatPeriod{};  // the interval less this session's jitter
  std::chrono::steady_clock::time_point lastHeartbeatAttempt{};
  std::vector<std::chrono::steady_clock::time_point> reasserts;  // within the last minute
  bool reconnecting = false;
  std::chrono::steady_clock::time_point reconnectSince{};
  int restoreTries = 0;
  bool watchingService = false;
  bool trafficMoved = false;
  bool preparedAnnounced = false;
  // Mesh.
  std::vector<int> meshPortNumbers;  // per Service port: what the router listens on
  std::string routerName;            // the router pod (and its selector label's value)
  std::string shadowIp;              // the leases' target
  std::string leftLastRouter;        // left as the last member ("-": no router named): deletions to finish
  std::chrono::steady_clock::time_point lastLease{}, lastLeaseAttempt{}, lastPodHeartbeat{};

  // Shared threads. The session's I/O (tunnel, proxies, waits) runs on one single-threaded io_context of
  // the runtime through `executor`, which counts the session's work in `work`.
  std::shared_ptr<SessionRuntime> runtime;
  std::shared_ptr<support::WorkCount> work;
  boost::asio::any_io_executor executor;
  std::unique_ptr<support::SteppedTask> driver;
  std::shared_ptr<tunnelclient::TunnelClient> tunnel;
  std::shared_ptr<tunnelclient::MixedProxy> proxy;  // HTTP, SOCKS5 and SOCKS4a on one port
  std::vector<std::shared_ptr<tunnelclient::PortForwarder>> forwarders;  // forward
  std::unique_ptr<kube::Waiter> serviceWatch;
  // Not shared with its coroutines: it is destroyed with Impl, after the session's work has drained.
  std::unique_ptr<tunnelclient::DnsForwarder> dns;
  std::shared_ptr<netns::NamespaceHost> namespaceHost;           // outbound netns
  std::shared_ptr<tunnelclient::PreloadService> preloadService;  // outbound preload
  std::shared_ptr<tunnelclient::PreloadDns> preloadDns;          // ... its UDP DNS
  std::optional<PreloadEnvInput> preloadInput;                   // ... and what its launch environment names
};

template <typename Ready>
bool ShadowSession::Impl::waitFor(std::chrono::milliseconds bound, Ready ready, bool& timedOut,
                                  bool stoppable) {
  std::unique_lock lock(mutex);
  const bool done = wake.wait_for(lock, bound, [&] { return (stoppable && stopAsked) || ready(); });
  timedOut = !done;
  return !(stoppable && stopAsked);
}

// Drops a wait/watch handle on the I/O thread, where its callbacks run (never under their feet).
void dropOnIo(const boost::asio::any_io_executor& executor, std::unique_ptr<kube::Waiter> waiter);

// The shadow pod's name (its Secret adds "-token"): tether-<service>-<id>, tether-connect-<id>.
std::string shadowBaseName(const SessionSpec& spec);

}  // namespace tether::session
