// ShadowSession.cpp - the driver loop: feeds SessionMachine with the outcome of each action and with
// events (stop, heartbeat due, selector overwritten, tunnel lost), and publishes every state change.
#include "server/session/ShadowSession.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "support/exec/CountingExecutor.hpp"
#include "support/exec/IoThreads.hpp"
#include "support/exec/ThreadPool.hpp"

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

void dropOnIo(const asio::any_io_executor& executor, std::unique_ptr<kube::Waiter> waiter) {
  if (!waiter) return;
  asio::post(executor,
             [waiter = std::shared_ptr<kube::Waiter>(std::move(waiter))]() mutable { waiter.reset(); });
}

ShadowSession::Impl::Impl(std::shared_ptr<SessionRuntime> runtimeIn, std::shared_ptr<kube::Client> clientIn,
                          SessionSpec requestIn, SessionTimings timingsIn, SessionObserver& observerIn)
    : client(std::move(clientIn)),
      request(std::move(requestIn)),
      timings(timingsIn),
      observer(observerIn),
      machine(planFor(request.mode), {}, request.audience, request.service),
      serverClock([client = client] { return kube::serverTime(*client); }),
      runtime(std::move(runtimeIn)),
      work(std::make_shared<support::WorkCount>()),
      executor(support::countingExecutor(runtime->io().next(), work)),
      driver(std::make_unique<support::SteppedTask>(runtime->drivers(), executor,
                                                    [this] { return stepGuarded(); })) {
  if (request.id.empty()) request.id = support::randomHex(4);
  // Mesh renews its leases (and, less often, the shadow pod's heartbeat) at the lease period.
  const auto interval = request.mode == Mode::Mesh ? timings.leaseRenew : timings.heartbeatInterval;
  const auto jitterRange = static_cast<std::uint64_t>(std::clamp(timings.heartbeatJitter, 0.0, 0.5) *
                                                      static_cast<double>(interval.count()));
  const auto jitter = jitterRange == 0 ? 0 : std::stoull(support::randomHex(4), nullptr, 16) % jitterRange;
  heartbeatPeriod = interval - std::chrono::milliseconds(jitter);
  snap.id = request.id;
  snap.mode = request.mode;
  snap.outbound = request.outbound;
  snap.strategy = request.strategy;
  snap.contextName = request.contextName;
  snap.namespaceName = request.namespaceName;
  snap.service = request.service;
  snap.owner = request.owner;
  snap.matchers = request.matchers;
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
      snap.reason = machine.reason();
      snap.undone = machine.undoneCompletely();
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

support::SteppedTask::Next ShadowSession::Impl::step() {
  if (!begun) {
    begun = true;
    publish(true);
    action = machine.start();
  }
  while (action.kind != ActionKind::Finished) {
    if (action.kind == ActionKind::Activated) {
      if (!activatedAnnounced) {
        activatedAnnounced = true;
        afterActivated();
      }
      auto resumeBy = Clock::now();
      if (!nextWhileActive(action, resumeBy)) return support::SteppedTask::Next::parkUntil(resumeBy);
      activatedAnnounced = false;
      stopDelivered = stopDelivered || machine.state() == SessionState::Stopping;
      publish();
      continue;
    }
    const auto begunAt = Clock::now();
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
    const double millis = std::chrono::duration<double, std::milli>(Clock::now() - begunAt).count();
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
  return support::SteppedTask::Next::done();
}

support::SteppedTask::Next ShadowSession::Impl::stepGuarded() {
  try {
    return step();
  } catch (const std::exception& error) {
    // Unexpected: the machine's undo did not run to its end. Say so; `tether clean` finishes the job.
    spdlog::error("session {}: driver stopped: {}", request.id, error.what());
    stopTunnel();
    {
      std::lock_guard lock(mutex);
      snap.state = SessionState::Failed;
      snap.blame = Blame::Internal;
      snap.reason = FailureReason::None;
      snap.undone = false;  // the undo did not run to its end
      snap.message = std::string("internal error: ") + error.what() + "; " +
                     remedy::cleanStale(request.audience, request.namespaceName);
      started = finished = true;
    }
    wake.notify_all();
    return support::SteppedTask::Next::done();
  }
}

// Every time the machine says "active" (first, and after each heartbeat or recovery): tell the waiters.
void ShadowSession::Impl::afterActivated() {
  // A mode that moves no traffic is prepared when it is active.
  if (request.awaitLocal) announcePrepared();
  {
    std::lock_guard lock(mutex);
    started = true;
  }
  wake.notify_all();
  publish();
}

bool ShadowSession::Impl::nextWhileActive(Action& next, Clock::time_point& resumeBy) {
  // Due an interval after the last renewal (whatever woke the driver meanwhile), but not sooner than a
  // pause after a failed attempt, so an unreachable API server is not hammered.
  const auto nextHeartbeat =
      std::max(lastHeartbeat + heartbeatPeriod, lastHeartbeatAttempt + timings.heartbeatRetryPause);
  std::unique_lock lock(mutex);
  if (stopAsked) {
    lock.unlock();
    next = machine.requestStop(false);
  } else if (tunnelLost) {
    tunnelLost = false;
    lock.unlock();
    next = machine.onTunnelLost();
  } else if (selectorOverwritten) {
    selectorOverwritten = false;
    lock.unlock();
    next = machine.onSelectorOverwritten();
  } else if (Clock::now() >= nextHeartbeat) {
    lock.unlock();
    next = machine.onHeartbeatDue();
  } else {
    resumeBy = nextHeartbeat;
    return false;
  }
  return true;
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
  wakeDriver();
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

ShadowSession::ShadowSession(std::shared_ptr<SessionRuntime> runtime, std::shared_ptr<kube::Client> client,
                             SessionSpec request, SessionTimings timings, SessionObserver& observer)
    : impl_(std::make_unique<Impl>(std::move(runtime), std::move(client), std::move(request), timings,
                                   observer)) {
  impl_->driver->start();
}

ShadowSession::~ShadowSession() {
  requestStop();
  impl_->driver->waitFinished();
  // The driver stopped the tunnel and the proxies in order; what is left (their objects, a watch) is dropped
  // on the I/O thread. Then the session's work is let drain, so cancellations the kube transport still
  // delivers find the session alive.
  asio::post(impl_->executor, [impl = impl_.get()] {
    impl->serviceWatch.reset();
    impl->proxy.reset();
    impl->forwarders.clear();
    impl->tunnel.reset();
  });
  if (!impl_->work->waitIdle(impl_->timings.ioDrainTimeout)) {
    // Freeing it now could run a handler on freed memory; keeping it costs a little memory.
    spdlog::error("session {}: {} handler(s) still pending {} ms after it ended; its state is kept",
                  impl_->request.id, impl_->work->outstanding(), impl_->timings.ioDrainTimeout.count());
    static_cast<void>(impl_.release());
  }
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
  impl_->wakeDriver();
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
  // netns: the wrapper's control socket is all a joining debuggee needs (no proxy variables inside).
  if (!impl_->snap.netnsControl.empty()) return impl_->snap.launchEnv;
  auto input = *impl_->envInput;
  input.current = baseEnv;
  auto env = launchEnvironment(input);
  if (impl_->preloadInput) {
    for (auto& [key, value] : preloadEnvironment(*impl_->preloadInput, baseEnv)) env[key] = value;
  }
  return env;
}

}  // namespace tether::session

namespace tether::session {

// Every mode runs on the shadow driver today; a mode with another shape (mesh's router) returns its own
// Session here.
std::unique_ptr<Session> startSession(std::shared_ptr<SessionRuntime> runtime,
                                      std::shared_ptr<kube::Client> client, SessionSpec spec,
                                      SessionTimings timings, SessionObserver& observer) {
  return std::make_unique<ShadowSession>(std::move(runtime), std::move(client), std::move(spec), timings,
                                         observer);
}

}  // namespace tether::session
