// RouteTable.hpp - the mesh router's leases and the order it tries them in. A lease says "requests whose
// headers match all of these go to this target"; the table grants, renews, drops and expires leases and
// answers "which lease takes this request" from an immutable snapshot, so a router thread reading one
// snapshot never sees a half-made change (the router swaps snapshots atomically).
//
// Precedence is total: a lease with more matchers wins; then the one with more exact matchers (baggage
// members count as exact), then more prefix matchers; then the older lease. An identical matcher set is
// refused naming its holder; an overlapping one is granted with a warning naming the other owner and who
// wins. Sans-io: the caller passes the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "protocol/mesh/Matcher.hpp"

namespace tether::mesh {

struct Target {
  std::string host;  // the user's shadow pod IP
  std::uint16_t port = 0;
};

struct Lease {
  std::string id;                 // the owner's session id; a put with the same id renews
  std::string owner;              // user@host, named in messages to other users
  std::vector<Matcher> matchers;  // all must match
  Target target;
  // The router port (one Service port) whose requests the lease takes; 0: every port. Leases on different
  // ports never compete, so one user's session takes each port it exposes with the same matchers.
  std::uint16_t port = 0;
};

// One granted lease as the router reads it.
struct Route {
  Lease lease;
  std::uint64_t granted = 0;  // grant order: older first among equals
  std::chrono::steady_clock::time_point expires{};
};

// Leases in the order they are tried; immutable once published.
using RouteSnapshot = std::vector<Route>;

// The lease that takes a request with these headers arriving on router port `port`, or null (the stable
// Service takes it).
const Route* routeFor(const RouteSnapshot& routes, const HeaderFields& fields, std::uint16_t port);

// True when two leases can take requests on the same port.
bool sharePort(const Lease& a, const Lease& b);

// True when `a` is tried before `b`.
bool precedes(const Route& a, const Route& b);

struct PutRefused {
  std::string message;  // names the lease holding the same matchers
};
struct PutGranted {
  std::vector<std::string> warnings;  // overlapping leases, their owners, and who wins
};

class RouteTable {
 public:
  using Clock = std::chrono::steady_clock;

  RouteTable();

  // Grants `lease` until `expires`, or renews it (same id: its matchers and target may change, its age
  // stays). Refused when another lease has the same matcher set, or when it has no matcher.
  std::variant<PutGranted, PutRefused> put(Lease lease, Clock::time_point expires);
  // Removes lease `id`; false when there was none.
  bool drop(const std::string& id);
  // Removes every lease whose time has passed; returns their ids.
  std::vector<std::string> expire(Clock::time_point now);

  std::shared_ptr<const RouteSnapshot> snapshot() const { return snapshot_; }

 private:
  void publish(RouteSnapshot routes);

  std::shared_ptr<const RouteSnapshot> snapshot_;
  std::uint64_t nextGrant_ = 1;
};

// Whether one request could match both matcher sets (false only when some header rules it out, such as
// x-dev=alice against x-dev=bob).
bool mayOverlap(const std::vector<Matcher>& a, const std::vector<Matcher>& b);

}  // namespace tether::mesh
