// SessionMachine.cpp - transitions of a session, in the order its mode plan gives.
#include "server/session/SessionMachine.hpp"

namespace tether::session {

const char* toString(SessionState state) {
  switch (state) {
    case SessionState::Starting:
      return "starting";
    case SessionState::Prepared:
      return "prepared";
    case SessionState::Active:
      return "active";
    case SessionState::Reconnecting:
      return "reconnecting";
    case SessionState::Stopping:
      return "stopping";
    case SessionState::Stopped:
      return "stopped";
    case SessionState::Failed:
      return "failed";
  }
  return "failed";
}

const char* toString(ActionKind kind) {
  switch (kind) {
    case ActionKind::ReadService:
      return "ReadService";
    case ActionKind::CheckAccess:
      return "CheckAccess";
    case ActionKind::Lock:
      return "Lock";
    case ActionKind::CreateShadow:
      return "CreateShadow";
    case ActionKind::AwaitShadowReady:
      return "AwaitShadowReady";
    case ActionKind::OpenTunnel:
      return "OpenTunnel";
    case ActionKind::MoveTraffic:
      return "MoveTraffic";
    case ActionKind::Activated:
      return "Activated";
    case ActionKind::RenewHeartbeat:
      return "RenewHeartbeat";
    case ActionKind::ReassertSelector:
      return "ReassertSelector";
    case ActionKind::RestoreTraffic:
      return "RestoreTraffic";
    case ActionKind::DeleteShadow:
      return "DeleteShadow";
    case ActionKind::Finished:
      return "Finished";
  }
  return "Finished";
}

SessionMachine::SessionMachine(ModePlan plan, SessionLimits limits, Audience audience, std::string service)
    : plan_(plan), limits_(limits), audience_(audience), service_(std::move(service)) {}

Action SessionMachine::next(ActionKind kind) {
  current_ = kind;
  idle_ = kind == ActionKind::Activated || kind == ActionKind::Finished;
  return Action{kind};
}

Action SessionMachine::start() {
  return next(plan_.readsService ? ActionKind::ReadService : ActionKind::CheckAccess);
}

ActionKind SessionMachine::after(ActionKind kind) const {
  switch (kind) {
    case ActionKind::ReadService:
      return ActionKind::CheckAccess;
    case ActionKind::CheckAccess:
      return plan_.locksService ? ActionKind::Lock : ActionKind::CreateShadow;
    case ActionKind::Lock:
      return ActionKind::CreateShadow;
    case ActionKind::CreateShadow:
      return ActionKind::AwaitShadowReady;
    case ActionKind::AwaitShadowReady:
      return ActionKind::OpenTunnel;
    case ActionKind::OpenTunnel:
      return plan_.movesTraffic ? ActionKind::MoveTraffic : ActionKind::Activated;
    default:
      return ActionKind::Activated;
  }
}

const char* toString(Blame blame) {
  switch (blame) {
    case Blame::User:
      return "user";
    case Blame::Cluster:
      return "cluster";
    case Blame::Internal:
      return "internal";
  }
  return "internal";
}

Action SessionMachine::fail(std::string message, Blame blame, FailureReason reason) {
  blame_ = blame;
  reason_ = reason;
  message_ =
      std::move(message);  // the reason of the failure replaces what was said before (reconnecting ...)
  state_ = SessionState::Failed;
  return undo();
}

// Undo in reverse order of doing: the Service first (traffic back to the original pods), then the shadow.
Action SessionMachine::undo() {
  if (state_ != SessionState::Failed) state_ = SessionState::Stopping;
  if ((lockTaken_ || trafficMoved_) && !serviceRestored_) return next(ActionKind::RestoreTraffic);
  // A Service still pointing at the shadow keeps it: deleting it would leave the Service with no endpoints.
  if (shadowCreated_ && !restoreFailed_) return next(ActionKind::DeleteShadow);
  if (state_ == SessionState::Stopping) state_ = SessionState::Stopped;
  return next(ActionKind::Finished);
}

Action SessionMachine::onOutcome(const Outcome& outcome) {
  const auto kind = current_;
  // Cleanup steps: retry restores a bounded number of times; a shadow that cannot be deleted is left for
  // `tether clean` (it exits by itself after its idle TTL) and said so.
  if (kind == ActionKind::RestoreTraffic) {
    if (outcome.kind == OutcomeKind::Done) {
      serviceRestored_ = true;
    } else if (++restoreAttempts_ < limits_.maxRestoreAttempts) {
      return next(ActionKind::RestoreTraffic);
    } else {
      state_ = SessionState::Failed;
      message_ = "could not restore the Service (" + outcome.message +
                 "); the shadow pod is kept so the Service still has an endpoint: " +
                 remedy::recover(audience_, service_);
      reason_ = FailureReason::NeedsRecover;  // whatever failed first, this is what is left to do
      blame_ = outcome.blame;
      serviceRestored_ = true;  // nothing more this session can do about it
      restoreFailed_ = true;
    }
    return undo();
  }
  if (kind == ActionKind::DeleteShadow) {
    shadowCreated_ = false;
    if (outcome.kind != OutcomeKind::Done) shadowLeft_ = true;
    if (outcome.kind != OutcomeKind::Done) {
      // Said after whatever failed first, never instead of it: a front end must not call the cluster clean.
      message_ += std::string(message_.empty() ? "" : "; ") + "the shadow pod could not be deleted (" +
                  outcome.message + "); " + remedy::cleaner(audience_) + " will remove it";
    }
    return undo();
  }
  // While active, Failed is for good (the lock was taken away, the shadow is gone): undo. Retry is a
  // transient error: said, and tried again at the next event.
  if (kind == ActionKind::ReassertSelector || kind == ActionKind::RenewHeartbeat) {
    if (stopRequested_) return undo();
    if (outcome.kind == OutcomeKind::Conflict && ++conflicts_ <= limits_.maxConflictRetries)
      return next(kind);
    conflicts_ = 0;
    if (outcome.kind == OutcomeKind::Failed) return fail(outcome.message, outcome.blame, outcome.reason);
    if (outcome.kind != OutcomeKind::Done) message_ = outcome.message;
    return next(ActionKind::Activated);
  }
  if (kind == ActionKind::OpenTunnel && state_ == SessionState::Reconnecting) {
    if (stopRequested_) return undo();
    if (outcome.kind == OutcomeKind::Failed) return fail(outcome.message, outcome.blame, outcome.reason);
    if (outcome.kind != OutcomeKind::Done) return next(ActionKind::OpenTunnel);  // the driver backs off
    state_ = SessionState::Active;
    message_.clear();
    return next(ActionKind::Activated);
  }

  // Starting: the creates happened even if a stop arrived meanwhile, so record them before anything else.
  if (outcome.kind == OutcomeKind::Done) {
    if (kind == ActionKind::Lock) lockTaken_ = true;
    if (kind == ActionKind::CreateShadow) shadowCreated_ = true;
  }
  // Preview's Service may exist even when its create failed (the answer lost, not the write): the undo
  // deletes it if it is the session's own, and leaves anyone else's alone.
  if (kind == ActionKind::MoveTraffic && !plan_.locksService) trafficMoved_ = true;
  if (stopRequested_) return undo();
  switch (outcome.kind) {
    case OutcomeKind::Held:
      return fail(outcome.message, outcome.blame, outcome.reason);
    case OutcomeKind::Failed:
    case OutcomeKind::Retry:  // starting: nothing to wait for, a start that cannot go on fails
      return fail(outcome.message, outcome.blame, outcome.reason);
    case OutcomeKind::Conflict:
      if (++conflicts_ > limits_.maxConflictRetries) {
        return fail("the Service kept changing while Tether tried to update it (" + outcome.message +
                    "); try again");
      }
      return next(kind);
    case OutcomeKind::Done:
      break;
  }
  conflicts_ = 0;
  if (kind == ActionKind::Activated || kind == ActionKind::Finished) return next(current_);
  const auto following = after(kind);
  if (following == ActionKind::Activated) state_ = SessionState::Active;
  return next(following);
}

Action SessionMachine::onHeartbeatDue() {
  if (state_ != SessionState::Active || !idle_) return Action{current_};
  return next(ActionKind::RenewHeartbeat);
}

Action SessionMachine::onSelectorOverwritten() {
  if (state_ != SessionState::Active || !idle_) return Action{current_};
  message_ = "the Service's selector was changed by someone else; Tether pointed it back at the shadow";
  return next(ActionKind::ReassertSelector);
}

Action SessionMachine::onTunnelLost() {
  if (state_ != SessionState::Active || !idle_) return Action{current_};
  state_ = SessionState::Reconnecting;
  message_ = "the tunnel to the shadow dropped; reconnecting";
  return next(ActionKind::OpenTunnel);
}

Action SessionMachine::requestStop(bool actionRunning) {
  if (state_ == SessionState::Stopping || state_ == SessionState::Stopped || state_ == SessionState::Failed) {
    return Action{current_};
  }
  stopRequested_ = true;
  if (actionRunning && !idle_) return Action{current_};
  return undo();
}

}  // namespace tether::session
