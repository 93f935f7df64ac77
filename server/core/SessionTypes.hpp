// SessionTypes.hpp - what front ends ask of sessions and what they get back, as plain types.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "server/core/ClusterQueries.hpp"
#include "server/session/Cleaner.hpp"
#include "server/session/LocalSessions.hpp"
#include "server/session/Session.hpp"

namespace tether::core {

// Who asks: error messages name the JSON field for IDE callers and the flag for CLI users.
enum class Caller { Cli, Ide };

// Mesh: one condition a request must meet to reach this session. `kind` is exact, prefix, regex or
// baggage (then `name` is the baggage member's key).
struct MatcherRequest {
  std::string kind = "exact";
  std::string name;
  std::string value;
};

struct SessionRequest {
  Caller caller = Caller::Cli;
  ConnectionOptions connection;
  std::string mode = "exchange";      // exchange | connect | preview | forward, checked once (ModeFactory)
  std::string service;                // exchange, forward: the Service; preview: the one to create
  std::vector<std::string> expose;    // "12001:8080", "8080", "12001:http"
  std::string strategy = "selector";  // exchange
  std::string serviceType = "ClusterIP";  // preview: ClusterIP | NodePort | LoadBalancer
  std::string image;                      // empty: config file, then TETHER_SHADOW_IMAGE, then the default
  std::map<std::string, std::string> baseEnv;  // the debuggee's environment, to extend rather than replace
  bool awaitLocal = false;                     // see session::SessionSpec::awaitLocal
  bool proxyProtocol = false;                  // see session::SessionSpec::proxyProtocol
  std::vector<MatcherRequest> matchers;        // mesh; none: a generated x-dev header
  std::string outbound = "proxy";              // proxy | netns, checked once (ModeFactory)
};

using SessionView = session::SessionSnapshot;

struct CleanRequest {
  bool dryRun = false;
  std::chrono::seconds staleAfter{120};
  bool allNamespaces = false;
  std::string service;  // recover: this Service only, whatever its heartbeat
};

using CleanResult = session::CleanReport;

// A session recorded on this machine, and whether the process holding it still runs.
struct MachineSession {
  session::LocalSession record;
  bool alive = false;
};

}  // namespace tether::core
