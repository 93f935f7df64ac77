// SessionMachine.hpp - a session's life as a sans-io state machine, the same for every mode; the mode's
// plan (Mode.hpp) says which steps it takes.
//
// The machine decides, the driver acts: each call returns the next Action (read the Service, take the
// lock, create the shadow, ...) and the driver reports how it went with an Outcome. No sockets, no
// clocks, so tests step it through every path. Its one promise: whatever fails, and whenever a stop is
// asked for, it undoes exactly what it did, in reverse order, restoring the Service before deleting the
// shadow so traffic returns to the original pods first.
#pragma once

#include <string>

#include "server/session/Mode.hpp"
#include "server/session/Remedies.hpp"

namespace tether::session {

// Prepared: started as far as it goes before traffic moves (the tunnel up, the launch environment known),
// waiting for the local process to listen (SessionSpec::awaitLocal). The driver reports it; to the machine
// the session is still starting.
enum class SessionState { Starting, Prepared, Active, Reconnecting, Stopping, Stopped, Failed };
const char* toString(SessionState state);

enum class ActionKind {
  ReadService,  // resolve the Service and the exposed ports (preview: check the name is free)
  CheckAccess,  // SelfSubjectAccessReviews for everything the session will do
  Lock,         // exchange: annotate the Service: locked-by, original selector (resourceVersion precondition)
  CreateShadow,      // the shadow pod
  AwaitShadowReady,  // by watch, bounded
  OpenTunnel,        // port-forward + tunnel + reverse listeners
  MoveTraffic,       // exchange: the Service's selector -> the shadow; preview: create the Service
  Activated,         // report: the session is active
  RenewHeartbeat,
  ReassertSelector,  // something overwrote the selector during the session
  RestoreTraffic,    // exchange: selector back, lock annotations removed; preview: delete the Service
  DeleteShadow,
  Finished,  // report: stopped or failed; nothing is left to undo
};
const char* toString(ActionKind kind);

struct Action {
  ActionKind kind;
};

enum class OutcomeKind {
  Done,      // the action succeeded
  Failed,    // it failed for good (message says why)
  Held,      // Lock: someone else holds the Service (message names them)
  Conflict,  // a resourceVersion precondition failed: read again and retry
  Retry,     // not yet (a tunnel still reconnecting, a transient API error): try again after a pause
};

// Whose a failure is, carried to the front end's error (JSON-RPC `category`, the CLI's exit message).
enum class Blame { User, Cluster, Internal };
const char* toString(Blame blame);

struct Outcome {
  OutcomeKind kind = OutcomeKind::Done;
  std::string message;
  Blame blame = Blame::User;                   // with Failed
  FailureReason reason = FailureReason::None;  // with Failed or Held, when one thing resolves it
};

struct SessionLimits {
  int maxConflictRetries = 5;  // lock and selector writes racing other writers
  int maxRestoreAttempts = 5;
};

class SessionMachine {
 public:
  // `audience` words the machine's own messages (a restore that gave up, naming `service`) for the client
  // that asked.
  explicit SessionMachine(ModePlan plan = planFor(Mode::Exchange), SessionLimits limits = {},
                          Audience audience = Audience::CommandLine, std::string service = "SERVICE");

  Action start();
  // The result of the action last returned.
  Action onOutcome(const Outcome& outcome);

  // Events while active. Each returns the action to run now (or the current one is kept: see `idle`).
  Action onHeartbeatDue();
  Action onSelectorOverwritten();
  Action onTunnelLost();
  // Asks to stop. While an action is running, the stop takes effect when its outcome arrives.
  Action requestStop(bool actionRunning);

  SessionState state() const { return state_; }
  // Why the session failed, or what it last reported (re-asserted selector, reconnecting).
  const std::string& message() const { return message_; }
  // Whose the failure is (meaningful once failed).
  Blame blame() const { return blame_; }
  // What resolves the failure, when one thing does (meaningful once failed).
  FailureReason reason() const { return reason_; }
  // True when the machine waits for an event rather than for an outcome.
  bool idle() const { return idle_; }

  bool lockTaken() const { return lockTaken_; }
  // True once the Service carries this session's heartbeat (exchange: the lock; preview: its Service).
  bool serviceHeld() const { return lockTaken_ || trafficMoved_; }
  // True when the restore gave up: the Service may still point at the shadow, which is then kept.
  bool restoreFailed() const { return restoreFailed_; }
  // False when the undo left something in the cluster: a Service it could not restore, or a shadow pod it
  // could not delete. Front ends then do not say that the cluster is as it was.
  bool undoneCompletely() const { return !restoreFailed_ && !shadowLeft_; }
  bool shadowCreated() const { return shadowCreated_; }

 private:
  Action next(ActionKind kind);
  Action fail(std::string message, Blame blame = Blame::User, FailureReason reason = FailureReason::None);
  Action undo();
  // The step after `kind` in this mode's start.
  ActionKind after(ActionKind kind) const;

  ModePlan plan_;
  SessionLimits limits_;
  SessionState state_ = SessionState::Starting;
  ActionKind current_ = ActionKind::ReadService;
  std::string message_;
  Blame blame_ = Blame::User;
  FailureReason reason_ = FailureReason::None;
  Audience audience_ = Audience::CommandLine;
  std::string service_;
  bool idle_ = false;
  bool stopRequested_ = false;
  bool lockTaken_ = false;
  bool shadowCreated_ = false;
  bool trafficMoved_ = false;
  bool serviceRestored_ = false;
  bool restoreFailed_ = false;
  bool shadowLeft_ = false;
  int conflicts_ = 0;
  int restoreAttempts_ = 0;
};

}  // namespace tether::session
