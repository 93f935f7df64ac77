// ShadowSession.cpp - the driver loop: feeds SessionMachine with the outcome of each action and with
// events (stop, heartbeat due, selector overwritten, tunnel lost), and publishes every state change.
#include "server/session/ShadowSession.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <future>
#include "support/text/Random.hpp"

#include "server/session/LaunchEnv.hpp"
#include "server/session/ShadowSessionImpl.hpp"

namespace tether::session {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

const char* toString(Strategy strategy) {
  return strategy == Strategy::Scale ? "scale" : "selector";
}

void dropOnIo(asio::io_context& io, std::unique_ptr<kube::Waiter> waiter) {
  if (!waiter) return;
  asio::post(io, [waiter = std::shared_ptr<kube::Waiter>(std::move(waiter))]() mutable { waiter.reset(); });
}

ShadowSession::Impl::Impl(std::shared_ptr<kube::Client> clientIn, SessionSpec requestIn,
                          SessionTimings timingsIn, SessionObserver& observerIn)
    : client(std::move(clientIn)),
      request(std::move(requestIn)),
      timings(timingsIn),
      observer(observerIn),
      machine(planFor(request.mode)),
      serverClock([client = client] { return kube::serverTime(*client); }),
      ioWork(asio::make_work_guard(io)) {
  if (request.id.empty()) request.id = support::randomHex(4);
  snap.id = request.id;
  snap.mode = request.mode;
  snap.strategy = request.strategy;
  snap.contextName = request.contextName;
  snap.namespaceName = request.namespaceName;
  snap.service = request.service;
  snap.owner = request.owner;
}

void ShadowSession::Impl::progress(const std::string& step) {
  SessionSnapshot copy;
  {
    std::lock_guard lock(mutex);
    copy = snap;
  }
  observer.onProgress(copy, step);
}

// Publishes the snapshot when the state or the message changed (or when forced). Only the driver thread
// reads the machine; the I/O thread passes fromDriver=false and republishes the last state.
void ShadowSession::Impl::publish(bool force, bool fromDriver) {
  // One publisher at a time, so observers see the states in the order they happened.
  std::lock_guard order(publishMutex);
  SessionSnapshot copy;
  {
    std::lock_guard lock(mutex);
    if (fromDriver) {
      snap.state = machine.state();
      if (snap.state == SessionState::Starting && preparedAnnounced) snap.state = SessionState::Prepared;
      snap.blame = machine.blame();
      machineMessage = machine.message();
    }
    snap.message = machineMessage;
    for (const auto& [port, problem] : forwardProblems) {
      if (snap.state == SessionState::Active && snap.message.empty()) {
        snap.message = "a connection to 127.0.0.1:" + std::to_string(port) + " could not reach Service " +
                       request.service + " (" + problem +
                       "); check that it has ready endpoints (`kubectl get endpoints " + request.service +
                       "`)";
      }
    }
    for (const auto& [port, problem] : localProblems) {
      if (snap.state == SessionState::Active && snap.message.empty()) {
        snap.message = "nothing answers on 127.0.0.1:" + std::to_string(port) + " (" + problem +
                       "); the cluster's clients get a reset until your process listens there";
      }
    }
    if (!force && snap.state == publishedState && snap.message == publishedMessage) return;
    publishedState = snap.state;
    publishedMessage = snap.message;
    copy = snap;
  }
  spdlog::info("session {} {}: {}/{} {}", copy.id, toString(copy.state), copy.namespaceName, copy.service,
               copy.message);
  observer.onStateChanged(copy);
}

void ShadowSession::Impl::drive() {
  publish(true);
  Action action = machine.start();
  bool stopDelivered = false;
  while (action.kind != ActionKind::Finished) {
    if (action.kind == ActionKind::Activated) {
      // A mode that moves no traffic is prepared when it is active.
      if (request.awaitLocal) announcePrepared();
      {
        std::lock_guard lock(mutex);
        started = true;
      }
      wake.notify_all();
      publish();
      runWhileActive(action);
      stopDelivered = stopDelivered || machine.state() == SessionState::Stopping;
      publish();
      continue;
    }
    const auto begun = Clock::now();
    Outcome outcome;
    try {
      outcome = execute(action.kind);
    } catch (const std::exception& error) {
      // A bug, not a cluster's answer: still an outcome, so the machine undoes what was done.
      spdlog::error("session {}: {} threw: {}", request.id, toString(action.kind), error.what());
      outcome = Outcome{OutcomeKind::Failed,
                        std::string("internal error in ") + toString(action.kind) + ": " + error.what() +
                            " (see the backend log)",
                        Blame::Internal};
    }
    const double millis = std::chrono::duration<double, std::milli>(Clock::now() - begun).count();
    {
      std::lock_guard lock(mutex);
      snap.phases.emplace_back(toString(action.kind), millis);
    }
    bool stop = false;
    {
      std::lock_guard lock(mutex);
      stop = stopAsked;
    }
    if (stop && !stopDelivered) {
      stopDelivered = true;
      machine.requestStop(true);
    }
    action = machine.onOutcome(outcome);
    publish();
  }
  stopTunnel();
  publish();
  {
    std::lock_guard lock(mutex);
    started = true;
    finished = true;
  }
  wake.notify_all();
}

// Sleeps until the next heartbeat, a stop, a lost tunnel or an overwritten selector, and turns what woke
// it into the machine's next action.
void ShadowSession::Impl::runWhileActive(Action& action) {
  // Due an interval after the last renewal (whatever woke the driver meanwhile), but not sooner than a
  // pause after a failed attempt, so an unreachable API server is not hammered.
  const auto nextHeartbeat =
      std::max(lastHeartbeat + timings.heartbeatInterval, lastHeartbeatAttempt + timings.heartbeatRetryPause);
  std::unique_lock lock(mutex);
  wake.wait_until(lock, nextHeartbeat, [&] { return stopAsked || tunnelLost || selectorOverwritten; });
  if (stopAsked) {
    lock.unlock();
    action = machine.requestStop(false);
  } else if (tunnelLost) {
    tunnelLost = false;
    lock.unlock();
    action = machine.onTunnelLost();
  } else if (selectorOverwritten) {
    selectorOverwritten = false;
    lock.unlock();
    action = machine.onSelectorOverwritten();
  } else {
    lock.unlock();
    action = machine.onHeartbeatDue();
  }
}

// --- TunnelObserver: the I/O thread reports, the driver decides ---

void ShadowSession::Impl::onState(tunnelclient::TunnelState state, const std::string& detail) {
  {
    std::lock_guard lock(mutex);
    const bool wasConnected = tunnelState == tunnelclient::TunnelState::Connected;
    tunnelState = state;
    tunnelDetail = detail;
    if (wasConnected && state != tunnelclient::TunnelState::Connected &&
        state != tunnelclient::TunnelState::Stopped) {
      tunnelLost = true;
      listenResults.clear();
    }
  }
  wake.notify_all();
}

void ShadowSession::Impl::onListener(const tunnel::ListenResult& result) {
  {
    std::lock_guard lock(mutex);
    listenResults.push_back(result);
  }
  wake.notify_all();
}

void ShadowSession::Impl::onLocalConnect(std::uint16_t port, const std::string& error) {
  bool changed = false;
  {
    std::lock_guard lock(mutex);
    if (error.empty()) {
      changed = localProblems.erase(port) > 0;
    } else {
      changed = localProblems.insert_or_assign(port, error).second;
    }
  }
  if (changed) publish(false, /*fromDriver=*/false);
}

// --- the public face ---

ShadowSession::ShadowSession(std::shared_ptr<kube::Client> client, SessionSpec request,
                             SessionTimings timings, SessionObserver& observer)
    : impl_(std::make_unique<Impl>(std::move(client), std::move(request), timings, observer)) {
  impl_->ioDone = impl_->ioFinished.get_future();
  impl_->ioThread = std::thread([impl = impl_.get()] {
    try {
      impl->io.run();
    } catch (const std::exception& error) {
      spdlog::error("session {}: I/O thread: {}", impl->request.id, error.what());
    }
    impl->ioFinished.set_value();
  });
  impl_->driverThread = std::thread([impl = impl_.get()] {
    try {
      impl->drive();
    } catch (const std::exception& error) {
      // Unexpected: the machine's undo did not run to its end. Say so; `tether clean` finishes the job.
      spdlog::error("session {}: driver stopped: {}", impl->request.id, error.what());
      std::lock_guard lock(impl->mutex);
      impl->snap.state = SessionState::Failed;
      impl->snap.blame = Blame::Internal;
      impl->snap.message = std::string("internal error: ") + error.what() + "; run `tether clean`";
      impl->started = impl->finished = true;
    }
    impl->wake.notify_all();
  });
}

ShadowSession::~ShadowSession() {
  requestStop();
  if (impl_->driverThread.joinable()) impl_->driverThread.join();
  // The driver stopped the tunnel and the proxies in order; what is left (their objects, a watch) is dropped
  // on the I/O thread. Then the loop is let run dry, so cancellations the kube transport still delivers
  // find it alive; only a loop still busy after the bound is stopped.
  asio::post(impl_->io, [impl = impl_.get()] {
    impl->serviceWatch.reset();
    impl->socksProxy.reset();
    impl->httpProxy.reset();
    impl->forwarders.clear();
    impl->tunnel.reset();
  });
  impl_->ioWork.reset();
  if (impl_->ioDone.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    spdlog::warn("session {}: I/O still busy after 10 s; stopping it", impl_->request.id);
    impl_->io.stop();
  }
  if (impl_->ioThread.joinable()) impl_->ioThread.join();
}

const std::string& ShadowSession::id() const {
  return impl_->request.id;
}

SessionSnapshot ShadowSession::waitStarted() {
  std::unique_lock lock(impl_->mutex);
  impl_->wake.wait(lock, [&] { return impl_->started; });
  return impl_->snap;
}

void ShadowSession::requestStop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopAsked = true;
  }
  impl_->wake.notify_all();
}

SessionSnapshot ShadowSession::waitFinished() {
  std::unique_lock lock(impl_->mutex);
  impl_->wake.wait(lock, [&] { return impl_->finished; });
  return impl_->snap;
}

SessionSnapshot ShadowSession::snapshot() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->snap;
}

std::map<std::string, std::string> ShadowSession::launchEnvFor(
    const std::map<std::string, std::string>& baseEnv) const {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->envInput) return {};
  auto input = *impl_->envInput;
  input.current = baseEnv;
  return launchEnvironment(input);
}

}  // namespace tether::session

namespace tether::session {

// Every mode runs on the shadow driver today; a mode with another shape (mesh's router) returns its own
// Session here.
std::unique_ptr<Session> startSession(std::shared_ptr<kube::Client> client, SessionSpec spec,
                                      SessionTimings timings, SessionObserver& observer) {
  return std::make_unique<ShadowSession>(std::move(client), std::move(spec), timings, observer);
}

}  // namespace tether::session
