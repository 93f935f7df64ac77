// RouteTable.cpp - see RouteTable.hpp.
#include "protocol/mesh/RouteTable.hpp"

#include <algorithm>

namespace tether::mesh {

namespace {

struct Strength {
  std::size_t matchers = 0;
  std::size_t exact = 0;
  std::size_t prefix = 0;
};

Strength strengthOf(const Lease& lease) {
  Strength strength;
  strength.matchers = lease.matchers.size();
  for (const auto& matcher : lease.matchers) {
    if (matcher.kind() == MatchKind::Exact || matcher.kind() == MatchKind::Baggage) ++strength.exact;
    if (matcher.kind() == MatchKind::Prefix) ++strength.prefix;
  }
  return strength;
}

std::vector<Matcher> sorted(std::vector<Matcher> matchers) {
  std::sort(matchers.begin(), matchers.end());
  matchers.erase(std::unique(matchers.begin(), matchers.end()), matchers.end());
  return matchers;
}

std::string describe(const std::vector<Matcher>& matchers) {
  std::string text;
  for (const auto& matcher : matchers) text += (text.empty() ? "" : ", ") + matcher.describe();
  return text;
}

bool startsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// True when no single header value can satisfy both (both on the same header or baggage key).
bool disjoint(const Matcher& a, const Matcher& b) {
  const bool aBaggage = a.kind() == MatchKind::Baggage;
  if (aBaggage != (b.kind() == MatchKind::Baggage) || a.name() != b.name()) return false;
  if (aBaggage) return a.value() != b.value();
  if (a.kind() == MatchKind::Regex || b.kind() == MatchKind::Regex) return false;  // not decided here
  if (a.kind() == MatchKind::Exact && b.kind() == MatchKind::Exact) return a.value() != b.value();
  if (a.kind() == MatchKind::Exact) return !startsWith(a.value(), b.value());
  if (b.kind() == MatchKind::Exact) return !startsWith(b.value(), a.value());
  return !startsWith(a.value(), b.value()) && !startsWith(b.value(), a.value());
}

}  // namespace

bool precedes(const Route& a, const Route& b) {
  const auto x = strengthOf(a.lease);
  const auto y = strengthOf(b.lease);
  if (x.matchers != y.matchers) return x.matchers > y.matchers;
  if (x.exact != y.exact) return x.exact > y.exact;
  if (x.prefix != y.prefix) return x.prefix > y.prefix;
  return a.granted < b.granted;
}

bool mayOverlap(const std::vector<Matcher>& a, const std::vector<Matcher>& b) {
  for (const auto& x : a) {
    for (const auto& y : b) {
      if (disjoint(x, y)) return false;
    }
  }
  return true;
}

bool sharePort(const Lease& a, const Lease& b) {
  return a.port == 0 || b.port == 0 || a.port == b.port;
}

const Route* routeFor(const RouteSnapshot& routes, const HeaderFields& fields, std::uint16_t port) {
  for (const auto& route : routes) {
    if (route.lease.port != 0 && route.lease.port != port) continue;
    const auto& matchers = route.lease.matchers;
    if (std::all_of(matchers.begin(), matchers.end(), [&](const Matcher& m) { return m.matches(fields); }))
      return &route;
  }
  return nullptr;
}

RouteTable::RouteTable() : snapshot_(std::make_shared<const RouteSnapshot>()) {}

std::variant<PutGranted, PutRefused> RouteTable::put(Lease lease, Clock::time_point expires) {
  if (lease.matchers.empty()) {
    return PutRefused{"lease " + lease.id + " has no matcher; it would take every request from the Service"};
  }
  lease.matchers = sorted(std::move(lease.matchers));
  const std::string id = lease.id;
  RouteSnapshot routes = *snapshot_;
  const auto own =
      std::find_if(routes.begin(), routes.end(), [&](const Route& r) { return r.lease.id == id; });
  for (const auto& route : routes) {
    if (route.lease.id != id && route.lease.matchers == lease.matchers && sharePort(route.lease, lease)) {
      return PutRefused{"the matchers " + describe(lease.matchers) + " are already leased by " +
                        route.lease.owner + " (lease " + route.lease.id + "); choose another header value"};
    }
  }
  Route fresh{std::move(lease), own != routes.end() ? own->granted : nextGrant_++, expires};
  if (own != routes.end()) {
    *own = std::move(fresh);
  } else {
    routes.push_back(std::move(fresh));
  }
  std::stable_sort(routes.begin(), routes.end(), precedes);
  PutGranted granted;
  const auto& mine =
      *std::find_if(routes.begin(), routes.end(), [&](const Route& r) { return r.lease.id == id; });
  for (const auto& other : routes) {
    if (other.lease.id == mine.lease.id || !sharePort(other.lease, mine.lease) ||
        !mayOverlap(other.lease.matchers, mine.lease.matchers))
      continue;
    const bool first = precedes(mine, other);
    granted.warnings.push_back("a request can match both this lease (" + describe(mine.lease.matchers) +
                               ") and " + other.lease.owner + "'s lease " + other.lease.id + " (" +
                               describe(other.lease.matchers) + "); it goes to " +
                               (first ? std::string("this one") : other.lease.owner + "'s"));
  }
  publish(std::move(routes));
  return granted;
}

bool RouteTable::drop(const std::string& id) {
  RouteSnapshot routes = *snapshot_;
  const auto before = routes.size();
  std::erase_if(routes, [&](const Route& r) { return r.lease.id == id; });
  if (routes.size() == before) return false;
  publish(std::move(routes));
  return true;
}

std::vector<std::string> RouteTable::expire(Clock::time_point now) {
  std::vector<std::string> expired;
  RouteSnapshot routes = *snapshot_;
  std::erase_if(routes, [&](const Route& r) {
    if (r.expires > now) return false;
    expired.push_back(r.lease.id);
    return true;
  });
  if (!expired.empty()) publish(std::move(routes));
  return expired;
}

void RouteTable::publish(RouteSnapshot routes) {
  snapshot_ = std::make_shared<const RouteSnapshot>(std::move(routes));
}

}  // namespace tether::mesh
