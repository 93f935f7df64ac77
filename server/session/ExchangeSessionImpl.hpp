// ExchangeSessionImpl.hpp - internal to server/session: the state an exchange session's driver keeps,
// shared by the driver loop (ExchangeSession.cpp) and the actions it runs (ExchangeActions.cpp).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "server/kube/Objects.hpp"
#include "server/session/ExchangeSession.hpp"
#include "server/tunnel/HttpProxy.hpp"
#include "server/tunnel/Socks5Proxy.hpp"
#include "server/tunnel/TunnelClient.hpp"

namespace tether::session {

struct ExchangeSession::Impl final : tunnelclient::TunnelObserver {
  Impl(std::shared_ptr<kube::Client> client, ExchangeRequest request, SessionTimings timings,
       SessionObserver& observer);

  // --- the driver (ExchangeSession.cpp) ---
  void drive();
  void runWhileActive(Action& action);
  void publish(bool force = false, bool fromDriver = true);
  void progress(const std::string& step);

  // --- the actions (ExchangeActions.cpp); each returns how it went ---
  Outcome execute(ActionKind kind);
  Outcome readService();
  Outcome checkAccess();
  Outcome lock();
  Outcome createShadow();
  Outcome awaitShadowReady();
  Outcome openTunnel();
  Outcome awaitTunnel();
  Outcome awaitReconnect();
  void renewIfDue();
  Outcome pointSelector();
  Outcome awaitLocalListeners();
  Outcome renewHeartbeat();
  Outcome restoreService();
  Outcome deleteShadow();
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
  ExchangeRequest request;
  SessionTimings timings;
  SessionObserver& observer;
  ExchangeMachine machine;

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
  std::map<std::uint16_t, std::string> localProblems;  // local port -> why nothing answered there
  bool started = false;
  bool finished = false;
  SessionSnapshot snap;
  std::string machineMessage;  // the machine's message as last read by the driver
  SessionState publishedState = SessionState::Starting;
  std::string publishedMessage;

  // Driver thread only.
  kube::ServiceSummary original;  // the Service as it was before anything changed
  std::vector<ExposedPort> exposed;
  std::vector<int> targetNumbers;               // per exposed port: what the shadow listens on
  std::map<std::string, int> originalReplicas;  // strategy scale
  std::string shadowName, secretName, token;
  std::string shadowUid;  // the shadow pod this session created; the tunnel accepts no other
  bool tunnelStarted = false;
  std::chrono::steady_clock::time_point lastHeartbeat{};
  std::chrono::steady_clock::time_point lastHeartbeatAttempt{};
  std::vector<std::chrono::steady_clock::time_point> reasserts;  // within the last minute
  bool reconnecting = false;
  std::chrono::steady_clock::time_point reconnectSince{};
  int restoreTries = 0;
  bool watchingService = false;
  bool trafficMoved = false;

  // I/O thread: tunnel, proxies, waits.
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> ioWork;
  std::shared_ptr<tunnelclient::TunnelClient> tunnel;
  std::shared_ptr<tunnelclient::HttpProxy> httpProxy;
  std::shared_ptr<tunnelclient::Socks5Proxy> socksProxy;
  std::unique_ptr<kube::Waiter> serviceWatch;
  std::promise<void> ioFinished;
  std::future<void> ioDone;
  std::thread ioThread;
  std::thread driverThread;
};

template <typename Ready>
bool ExchangeSession::Impl::waitFor(std::chrono::milliseconds bound, Ready ready, bool& timedOut,
                                    bool stoppable) {
  std::unique_lock lock(mutex);
  const bool done = wake.wait_for(lock, bound, [&] { return (stoppable && stopAsked) || ready(); });
  timedOut = !done;
  return !(stoppable && stopAsked);
}

// Drops a wait/watch handle on the I/O thread, where its callbacks run (never under their feet).
void dropOnIo(boost::asio::io_context& io, std::unique_ptr<kube::Waiter> waiter);

}  // namespace tether::session
