// ExchangeMachineTests.cpp - the exchange session stepped without a cluster: the happy path, events
// while active, and the undo matrix (whatever fails, exactly what was done is undone, in reverse order).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "server/session/ExchangeMachine.hpp"

using namespace tether::session;

namespace {

const Outcome kDone{OutcomeKind::Done, {}};

// Runs the machine, answering every action with Done except `failAt`, which gets `failure`.
std::vector<std::string> run(ActionKind failAt, Outcome failure, ExchangeMachine& machine) {
  std::vector<std::string> trace;
  auto action = machine.start();
  for (int guard = 0; guard < 50; ++guard) {
    trace.push_back(toString(action.kind));
    if (action.kind == ActionKind::Finished || action.kind == ActionKind::Activated) break;
    action = machine.onOutcome(action.kind == failAt ? failure : kDone);
  }
  return trace;
}

using Trace = std::vector<std::string>;

}  // namespace

TEST_CASE("the happy path reaches Active, and a stop undoes everything in reverse order",
          "[session][exchange]") {
  ExchangeMachine machine;
  const auto trace = run(ActionKind::Finished, kDone, machine);
  CHECK(trace == Trace{"ReadService", "CheckAccess", "Lock", "CreateShadow", "AwaitShadowReady", "OpenTunnel",
                       "PointSelector", "Activated"});
  CHECK(machine.state() == SessionState::Active);
  CHECK(machine.idle());
  auto action = machine.requestStop(false);
  CHECK(machine.state() == SessionState::Stopping);
  CHECK(action.kind == ActionKind::RestoreService);  // traffic back to the original pods first
  action = machine.onOutcome(kDone);
  CHECK(action.kind == ActionKind::DeleteShadow);
  action = machine.onOutcome(kDone);
  CHECK(action.kind == ActionKind::Finished);
  CHECK(machine.state() == SessionState::Stopped);
}

TEST_CASE("a failure at each step undoes exactly what was done", "[session][exchange]") {
  struct Case {
    ActionKind failAt;
    Trace cleanup;
  };
  const Case cases[] = {
      {ActionKind::ReadService, {"Finished"}},
      {ActionKind::CheckAccess, {"Finished"}},
      {ActionKind::Lock, {"Finished"}},
      {ActionKind::CreateShadow, {"RestoreService", "Finished"}},
      {ActionKind::AwaitShadowReady, {"RestoreService", "DeleteShadow", "Finished"}},
      {ActionKind::OpenTunnel, {"RestoreService", "DeleteShadow", "Finished"}},
      {ActionKind::PointSelector, {"RestoreService", "DeleteShadow", "Finished"}},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION("failing at " << toString(c.failAt)) {
      ExchangeMachine machine;
      const auto trace = run(c.failAt, Outcome{OutcomeKind::Failed, "boom"}, machine);
      const auto failedAt = std::find(trace.begin(), trace.end(), toString(c.failAt));
      REQUIRE(failedAt != trace.end());
      CHECK(Trace(failedAt + 1, trace.end()) == c.cleanup);
      CHECK(machine.state() == SessionState::Failed);
      CHECK(machine.message() == "boom");
    }
  }
}

TEST_CASE("a Service held by someone else fails without touching anything", "[session][exchange]") {
  ExchangeMachine machine;
  const auto trace = run(ActionKind::Lock,
                         Outcome{OutcomeKind::Held, "service orders is exchanged by alice@laptop"}, machine);
  CHECK(trace.back() == "Finished");
  CHECK(std::count(trace.begin(), trace.end(), "RestoreService") == 0);
  CHECK(machine.message() == "service orders is exchanged by alice@laptop");
  CHECK_FALSE(machine.lockTaken());
}

TEST_CASE("write conflicts are retried a bounded number of times", "[session][exchange]") {
  ExchangeMachine machine(ExchangeLimits{2, 5});
  auto action = machine.start();
  action = machine.onOutcome(kDone);  // ReadService
  action = machine.onOutcome(kDone);  // CheckAccess
  REQUIRE(action.kind == ActionKind::Lock);
  const Outcome conflict{OutcomeKind::Conflict, "the object has been modified"};
  CHECK(machine.onOutcome(conflict).kind == ActionKind::Lock);
  CHECK(machine.onOutcome(conflict).kind == ActionKind::Lock);
  CHECK(machine.onOutcome(conflict).kind == ActionKind::Finished);  // third conflict: give up
  CHECK(machine.state() == SessionState::Failed);
  CHECK_THAT(machine.message(), Catch::Contains("kept changing"));
}

TEST_CASE("a stop during start takes effect when the running action completes", "[session][exchange]") {
  ExchangeMachine machine;
  auto action = machine.start();
  action = machine.onOutcome(kDone);
  action = machine.onOutcome(kDone);
  action = machine.onOutcome(kDone);  // Lock done
  REQUIRE(action.kind == ActionKind::CreateShadow);
  CHECK(machine.requestStop(true).kind == ActionKind::CreateShadow);  // still running
  // The pod was created after all: it must be deleted, and the lock released first.
  CHECK(machine.onOutcome(kDone).kind == ActionKind::RestoreService);
  CHECK(machine.onOutcome(kDone).kind == ActionKind::DeleteShadow);
  CHECK(machine.onOutcome(kDone).kind == ActionKind::Finished);
  CHECK(machine.state() == SessionState::Stopped);
}

TEST_CASE("while active: heartbeats, an overwritten selector, a dropped tunnel", "[session][exchange]") {
  ExchangeMachine machine;
  run(ActionKind::Finished, kDone, machine);
  REQUIRE(machine.state() == SessionState::Active);

  CHECK(machine.onHeartbeatDue().kind == ActionKind::RenewHeartbeat);
  CHECK(machine.onOutcome(kDone).kind == ActionKind::Activated);

  CHECK(machine.onSelectorOverwritten().kind == ActionKind::ReassertSelector);
  CHECK_THAT(machine.message(), Catch::Contains("changed by someone else"));
  CHECK(machine.onOutcome(kDone).kind == ActionKind::Activated);

  CHECK(machine.onTunnelLost().kind == ActionKind::OpenTunnel);
  CHECK(machine.state() == SessionState::Reconnecting);
  CHECK(machine.onOutcome(Outcome{OutcomeKind::Retry, "refused"}).kind == ActionKind::OpenTunnel);
  CHECK(machine.onOutcome(kDone).kind == ActionKind::Activated);
  CHECK(machine.state() == SessionState::Active);

  // A transient heartbeat error is said and the session stays up.
  CHECK(machine.onHeartbeatDue().kind == ActionKind::RenewHeartbeat);
  CHECK(machine.onOutcome(Outcome{OutcomeKind::Retry, "API server unreachable"}).kind ==
        ActionKind::Activated);
  CHECK(machine.state() == SessionState::Active);
  CHECK_THAT(machine.message(), Catch::Contains("unreachable"));
}

TEST_CASE("while active: a lost lock or a dead shadow ends the session and undoes it",
          "[session][exchange]") {
  SECTION("the lock was removed by someone else") {
    ExchangeMachine machine;
    run(ActionKind::Finished, kDone, machine);
    CHECK(machine.onHeartbeatDue().kind == ActionKind::RenewHeartbeat);
    CHECK(machine.onOutcome(Outcome{OutcomeKind::Failed, "lock removed"}).kind == ActionKind::RestoreService);
    CHECK(machine.state() == SessionState::Failed);
    CHECK(machine.message() == "lock removed");
  }
  SECTION("the shadow pod is gone while reconnecting") {
    ExchangeMachine machine;
    run(ActionKind::Finished, kDone, machine);
    CHECK(machine.onTunnelLost().kind == ActionKind::OpenTunnel);
    CHECK(machine.onOutcome(Outcome{OutcomeKind::Failed, "shadow gone"}).kind == ActionKind::RestoreService);
    CHECK(machine.onOutcome(kDone).kind == ActionKind::DeleteShadow);
    CHECK(machine.onOutcome(kDone).kind == ActionKind::Finished);
    CHECK(machine.state() == SessionState::Failed);
  }
}

TEST_CASE(
    "a restore that keeps failing ends in Failed with the recover hint, and the shadow is kept as the "
    "endpoint",
    "[session][exchange]") {
  ExchangeMachine machine(ExchangeLimits{5, 2});
  run(ActionKind::Finished, kDone, machine);
  CHECK(machine.requestStop(false).kind == ActionKind::RestoreService);
  const Outcome broken{OutcomeKind::Failed, "Forbidden"};
  CHECK(machine.onOutcome(broken).kind == ActionKind::RestoreService);
  CHECK(machine.onOutcome(broken).kind == ActionKind::Finished);  // no DeleteShadow
  CHECK(machine.restoreFailed());
  CHECK(machine.state() == SessionState::Failed);
  CHECK_THAT(machine.message(), Catch::Contains("tether recover"));
}
