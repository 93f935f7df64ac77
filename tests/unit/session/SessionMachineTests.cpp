// SessionMachineTests.cpp - sessions stepped without a cluster: the happy path of each mode, events while
// active, and the undo matrix (whatever fails, exactly what was done is undone, in reverse order).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "server/session/SessionMachine.hpp"

using namespace tether::session;

namespace {

const Outcome kDone{OutcomeKind::Done, {}};

// Runs the machine, answering every action with Done except `failAt`, which gets `failure`.
std::vector<std::string> run(ActionKind failAt, Outcome failure, SessionMachine& machine) {
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
  SessionMachine machine;
  const auto trace = run(ActionKind::Finished, kDone, machine);
  CHECK(trace == Trace{"ReadService", "CheckAccess", "Lock", "CreateShadow", "AwaitShadowReady", "OpenTunnel",
                       "MoveTraffic", "Activated"});
  CHECK(machine.state() == SessionState::Active);
  CHECK(machine.idle());
  auto action = machine.requestStop(false);
  CHECK(machine.state() == SessionState::Stopping);
  CHECK(action.kind == ActionKind::RestoreTraffic);  // traffic back to the original pods first
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
      {ActionKind::CreateShadow, {"RestoreTraffic", "Finished"}},
      {ActionKind::AwaitShadowReady, {"RestoreTraffic", "DeleteShadow", "Finished"}},
      {ActionKind::OpenTunnel, {"RestoreTraffic", "DeleteShadow", "Finished"}},
      {ActionKind::MoveTraffic, {"RestoreTraffic", "DeleteShadow", "Finished"}},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION("failing at " << toString(c.failAt)) {
      SessionMachine machine;
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
  SessionMachine machine;
  const auto trace = run(ActionKind::Lock,
                         Outcome{OutcomeKind::Held, "service orders is exchanged by alice@laptop"}, machine);
  CHECK(trace.back() == "Finished");
  CHECK(std::count(trace.begin(), trace.end(), "RestoreTraffic") == 0);
  CHECK(machine.message() == "service orders is exchanged by alice@laptop");
  CHECK_FALSE(machine.lockTaken());
}

TEST_CASE("a failure's reason is kept for the front end, a plain failure has none", "[session][exchange]") {
  SessionMachine held;
  run(ActionKind::Lock,
      Outcome{OutcomeKind::Held, "held by your own session", Blame::User, FailureReason::HeldByOwnSession},
      held);
  CHECK(held.state() == SessionState::Failed);
  CHECK(held.reason() == FailureReason::HeldByOwnSession);
  CHECK(std::string(toString(held.reason())) == "held-by-own-session");

  SessionMachine missing;
  run(ActionKind::ReadService,
      Outcome{OutcomeKind::Failed, "not found", Blame::User, FailureReason::ServiceNotFound}, missing);
  CHECK(missing.reason() == FailureReason::ServiceNotFound);
  CHECK(std::string(fieldOf(missing.reason())) == "target");

  SessionMachine plain;
  run(ActionKind::CreateShadow, Outcome{OutcomeKind::Failed, "quota", Blame::User}, plain);
  CHECK(plain.reason() == FailureReason::None);
  CHECK(std::string(toString(plain.reason())).empty());
  CHECK(fieldOf(plain.reason()) == nullptr);
}

TEST_CASE("a restore that gives up says how to recover, in the words of the client that asked",
          "[session][exchange]") {
  for (const auto audience : {Audience::CommandLine, Audience::Ide}) {
    SessionMachine machine(planFor(Mode::Exchange), SessionLimits{5, 1}, audience, "orders");
    // A first failure with a reason of its own (after the lock, so there is a Service to restore) ...
    auto action = machine.start();
    for (int guard = 0; guard < 50 && action.kind != ActionKind::MoveTraffic; ++guard)
      action = machine.onOutcome(kDone);
    REQUIRE(action.kind == ActionKind::MoveTraffic);
    action = machine.onOutcome(
        Outcome{OutcomeKind::Failed, "keeps changing", Blame::User, FailureReason::StrategyUnsuitable});
    REQUIRE(machine.reason() == FailureReason::StrategyUnsuitable);
    REQUIRE(action.kind == ActionKind::RestoreTraffic);
    // ... then a restore that fails for good (the limit is one try): what is left to do replaces it.
    action = machine.onOutcome(Outcome{OutcomeKind::Failed, "connection refused", Blame::Cluster});
    CHECK(machine.state() == SessionState::Failed);
    CHECK(machine.reason() == FailureReason::NeedsRecover);
    CHECK(machine.blame() == Blame::Cluster);
    CHECK_FALSE(machine.undoneCompletely());
    REQUIRE(machine.message().find("could not restore the Service (connection refused)") == 0);
    if (audience == Audience::CommandLine) {
      CHECK_THAT(machine.message(), Catch::EndsWith("run `tether recover orders`"));
    } else {
      CHECK_THAT(machine.message(), Catch::EndsWith("recover orders"));
      CHECK_THAT(machine.message(), !Catch::Contains("`tether"));
    }
  }
}

TEST_CASE("a shadow pod the undo could not delete is not called undone", "[session][exchange]") {
  SessionMachine machine(planFor(Mode::Exchange));
  run(ActionKind::OpenTunnel, Outcome{OutcomeKind::Failed, "no tunnel", Blame::Cluster}, machine);
  CHECK(machine.undoneCompletely());
  SessionMachine left(planFor(Mode::Exchange));
  auto action = left.start();
  for (int guard = 0; guard < 50 && action.kind != ActionKind::Finished; ++guard) {
    if (action.kind == ActionKind::OpenTunnel) {
      action = left.onOutcome(Outcome{OutcomeKind::Failed, "no tunnel", Blame::Cluster});
    } else if (action.kind == ActionKind::DeleteShadow) {
      action = left.onOutcome(Outcome{OutcomeKind::Failed, "forbidden", Blame::User});
    } else {
      action = left.onOutcome(kDone);
    }
  }
  CHECK(left.state() == SessionState::Failed);
  CHECK_FALSE(left.undoneCompletely());
  // The first failure is still said, and the pod left behind after it.
  CHECK_THAT(left.message(), Catch::StartsWith("no tunnel; the shadow pod could not be deleted (forbidden)"));
}

TEST_CASE("write conflicts are retried a bounded number of times", "[session][exchange]") {
  SessionMachine machine(planFor(Mode::Exchange), SessionLimits{2, 5});
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
  SessionMachine machine;
  auto action = machine.start();
  action = machine.onOutcome(kDone);
  action = machine.onOutcome(kDone);
  action = machine.onOutcome(kDone);  // Lock done
  REQUIRE(action.kind == ActionKind::CreateShadow);
  CHECK(machine.requestStop(true).kind == ActionKind::CreateShadow);  // still running
  // The pod was created after all: it must be deleted, and the lock released first.
  CHECK(machine.onOutcome(kDone).kind == ActionKind::RestoreTraffic);
  CHECK(machine.onOutcome(kDone).kind == ActionKind::DeleteShadow);
  CHECK(machine.onOutcome(kDone).kind == ActionKind::Finished);
  CHECK(machine.state() == SessionState::Stopped);
}

TEST_CASE("while active: heartbeats, an overwritten selector, a dropped tunnel", "[session][exchange]") {
  SessionMachine machine;
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
    SessionMachine machine;
    run(ActionKind::Finished, kDone, machine);
    CHECK(machine.onHeartbeatDue().kind == ActionKind::RenewHeartbeat);
    CHECK(machine.onOutcome(Outcome{OutcomeKind::Failed, "lock removed"}).kind == ActionKind::RestoreTraffic);
    CHECK(machine.state() == SessionState::Failed);
    CHECK(machine.message() == "lock removed");
  }
  SECTION("the shadow pod is gone while reconnecting") {
    SessionMachine machine;
    run(ActionKind::Finished, kDone, machine);
    CHECK(machine.onTunnelLost().kind == ActionKind::OpenTunnel);
    CHECK(machine.onOutcome(Outcome{OutcomeKind::Failed, "shadow gone"}).kind == ActionKind::RestoreTraffic);
    CHECK(machine.onOutcome(kDone).kind == ActionKind::DeleteShadow);
    CHECK(machine.onOutcome(kDone).kind == ActionKind::Finished);
    CHECK(machine.state() == SessionState::Failed);
  }
}

TEST_CASE(
    "a restore that keeps failing ends in Failed with the recover hint, and the shadow is kept as the "
    "endpoint",
    "[session][exchange]") {
  SessionMachine machine(planFor(Mode::Exchange), SessionLimits{5, 2});
  run(ActionKind::Finished, kDone, machine);
  CHECK(machine.requestStop(false).kind == ActionKind::RestoreTraffic);
  const Outcome broken{OutcomeKind::Failed, "Forbidden"};
  CHECK(machine.onOutcome(broken).kind == ActionKind::RestoreTraffic);
  CHECK(machine.onOutcome(broken).kind == ActionKind::Finished);  // no DeleteShadow
  CHECK(machine.restoreFailed());
  CHECK(machine.state() == SessionState::Failed);
  CHECK_THAT(machine.message(), Catch::Contains("tether recover"));
}

TEST_CASE("connect and forward touch no Service: shadow, tunnel, active; a stop deletes the shadow",
          "[session][modes]") {
  for (const auto mode : {Mode::Connect, Mode::Forward}) {
    SessionMachine machine(planFor(mode));
    const auto trace = run(ActionKind::Finished, kDone, machine);
    Trace expected{"CheckAccess", "CreateShadow", "AwaitShadowReady", "OpenTunnel", "Activated"};
    if (mode == Mode::Forward) expected.insert(expected.begin(), "ReadService");
    CHECK(trace == expected);
    CHECK(machine.state() == SessionState::Active);
    CHECK_FALSE(machine.serviceHeld());
    auto action = machine.onHeartbeatDue();  // kept on the shadow pod
    CHECK(action.kind == ActionKind::RenewHeartbeat);
    action = machine.onOutcome(kDone);
    CHECK(action.kind == ActionKind::Activated);
    action = machine.requestStop(false);
    CHECK(action.kind == ActionKind::DeleteShadow);
    CHECK(machine.onOutcome(kDone).kind == ActionKind::Finished);
    CHECK(machine.state() == SessionState::Stopped);
  }
}

TEST_CASE("preview creates its Service last and deletes it first", "[session][modes]") {
  SessionMachine machine(planFor(Mode::Preview));
  const auto trace = run(ActionKind::Finished, kDone, machine);
  CHECK(trace == Trace{"ReadService", "CheckAccess", "CreateShadow", "AwaitShadowReady", "OpenTunnel",
                       "MoveTraffic", "Activated"});
  CHECK(machine.serviceHeld());
  auto action = machine.requestStop(false);
  CHECK(action.kind == ActionKind::RestoreTraffic);  // the Service goes before its only endpoint
  CHECK(machine.onOutcome(kDone).kind == ActionKind::DeleteShadow);
  CHECK(machine.onOutcome(kDone).kind == ActionKind::Finished);
}

TEST_CASE("preview: a name taken (or any failure) before the Service exists deletes only the shadow",
          "[session][modes]") {
  struct Case {
    ActionKind failAt;
    Trace cleanup;
  };
  const Case cases[] = {
      {ActionKind::ReadService, {"Finished"}},  // the name exists: nothing was created
      {ActionKind::CheckAccess, {"Finished"}},
      {ActionKind::CreateShadow, {"Finished"}},
      {ActionKind::OpenTunnel, {"DeleteShadow", "Finished"}},
      // The create failed (someone took the name meanwhile, or its answer was lost): the undo deletes the
      // Service only if it is the session's own, then the shadow.
      {ActionKind::MoveTraffic, {"RestoreTraffic", "DeleteShadow", "Finished"}},
  };
  for (const auto& c : cases) {
    SessionMachine machine(planFor(Mode::Preview));
    auto trace = run(c.failAt, Outcome{OutcomeKind::Failed, "boom", Blame::User}, machine);
    const auto at = std::find(trace.begin(), trace.end(), toString(c.failAt));
    REQUIRE(at != trace.end());
    CHECK(Trace(at + 1, trace.end()) == c.cleanup);
    CHECK(machine.state() == SessionState::Failed);
    CHECK(machine.message() == "boom");
  }
}

TEST_CASE("a failure's blame reaches the machine's report", "[session]") {
  SessionMachine machine(planFor(Mode::Connect));
  run(ActionKind::AwaitShadowReady, Outcome{OutcomeKind::Failed, "no answer", Blame::Cluster}, machine);
  CHECK(machine.state() == SessionState::Failed);
  CHECK(machine.blame() == Blame::Cluster);
}
