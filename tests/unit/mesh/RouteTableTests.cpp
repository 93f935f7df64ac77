// RouteTableTests.cpp - leases: who takes a request when several match (a total order), refusal of an
// identical matcher set naming its holder, warnings for overlaps, renewals that keep a lease's age, and
// expiry; a published snapshot never changes under its reader.
#include <catch2/catch.hpp>

#include "protocol/mesh/RouteTable.hpp"

using namespace tether::mesh;
using namespace std::chrono_literals;

namespace {

const auto kNow = RouteTable::Clock::time_point{} + 1h;

Matcher m(MatchKind kind, std::string name, std::string value) {
  std::string error;
  auto made = Matcher::make(kind, std::move(name), std::move(value), error);
  REQUIRE(made);
  return *made;
}

Lease lease(std::string id, std::string owner, std::vector<Matcher> matchers, std::uint16_t port) {
  return Lease{std::move(id), std::move(owner), std::move(matchers), Target{"10.0.0.1", port}};
}

PutGranted granted(RouteTable& table, Lease l, RouteTable::Clock::time_point expires = kNow + 15s) {
  auto result = table.put(std::move(l), expires);
  REQUIRE(std::holds_alternative<PutGranted>(result));
  return std::get<PutGranted>(result);
}

std::string winner(const RouteTable& table, const HeaderFields& fields) {
  const auto snapshot = table.snapshot();
  const auto* route = routeFor(*snapshot, fields, 80);
  return route == nullptr ? "stable" : route->lease.id;
}

}  // namespace

TEST_CASE("different users with different keys each get their own requests", "[mesh]") {
  RouteTable table;
  granted(table, lease("alice", "alice@a", {m(MatchKind::Exact, "x-dev", "alice")}, 1));
  granted(table, lease("bob", "bob@b", {m(MatchKind::Exact, "tenant", "bob")}, 2));
  CHECK(winner(table, {}) == "stable");
  CHECK(winner(table, {{"x-dev", "alice"}}) == "alice");
  CHECK(winner(table, {{"tenant", "bob"}}) == "bob");
  CHECK(winner(table, {{"x-dev", "carol"}}) == "stable");
  // A request carrying both: the documented winner is the older lease (equal strength).
  CHECK(winner(table, {{"tenant", "bob"}, {"x-dev", "alice"}}) == "alice");
}

TEST_CASE("precedence: more matchers, then exact over prefix over regex, then the older lease", "[mesh]") {
  RouteTable table;
  granted(table, lease("regex", "r@h", {m(MatchKind::Regex, "x-dev", "a.*")}, 1));
  granted(table, lease("prefix", "p@h", {m(MatchKind::Prefix, "x-dev", "al")}, 2));
  granted(table, lease("exact", "e@h", {m(MatchKind::Exact, "x-dev", "alice")}, 3));
  granted(table,
          lease("two", "t@h", {m(MatchKind::Regex, "x-dev", "a.*"), m(MatchKind::Exact, "tier", "gold")}, 4));
  CHECK(winner(table, {{"x-dev", "alice"}}) == "exact");
  CHECK(winner(table, {{"x-dev", "alfred"}}) == "prefix");
  CHECK(winner(table, {{"x-dev", "anna"}}) == "regex");
  CHECK(winner(table, {{"x-dev", "alice"}, {"tier", "gold"}}) == "two");
  const auto snapshot = table.snapshot();
  REQUIRE(snapshot->size() == 4u);
  CHECK((*snapshot)[0].lease.id == "two");
  CHECK((*snapshot)[1].lease.id == "exact");
  CHECK((*snapshot)[2].lease.id == "prefix");
  CHECK((*snapshot)[3].lease.id == "regex");
}

TEST_CASE("an identical matcher set is refused naming its holder; an overlap is granted with a warning",
          "[mesh]") {
  RouteTable table;
  granted(table, lease("a1", "alice@laptop", {m(MatchKind::Exact, "x-dev", "alice")}, 1));
  const auto refused =
      table.put(lease("a2", "mallory@pc", {m(MatchKind::Exact, "X-Dev", "alice")}, 9), kNow + 15s);
  REQUIRE(std::holds_alternative<PutRefused>(refused));
  CHECK(std::get<PutRefused>(refused).message.find("alice@laptop (lease a1)") != std::string::npos);
  CHECK(table.snapshot()->size() == 1u);  // nothing changed

  // x-dev=bob cannot match with x-dev=alice: no warning. A prefix that could: a warning naming both.
  CHECK(granted(table, lease("b", "bob@pc", {m(MatchKind::Exact, "x-dev", "bob")}, 2)).warnings.empty());
  const auto overlap = granted(table, lease("c", "carol@pc", {m(MatchKind::Prefix, "x-dev", "ali")}, 3));
  REQUIRE(overlap.warnings.size() == 1u);
  CHECK(overlap.warnings[0].find("alice@laptop's lease a1") != std::string::npos);
  CHECK(overlap.warnings[0].find("it goes to alice@laptop's") != std::string::npos);
  const auto noMatcher = table.put(lease("d", "dave@pc", {}, 4), kNow + 15s);
  REQUIRE(std::holds_alternative<PutRefused>(noMatcher));
  CHECK(std::get<PutRefused>(noMatcher).message.find("no matcher") != std::string::npos);
}

TEST_CASE("a renewal keeps the lease's age; expiry and drop give its requests back to stable", "[mesh]") {
  RouteTable table;
  granted(table, lease("old", "o@h", {m(MatchKind::Exact, "x-dev", "a")}, 1), kNow + 15s);
  granted(table, lease("new", "n@h", {m(MatchKind::Exact, "tenant", "a")}, 2), kNow + 15s);
  // Renewed with a new target: still the older of the two, so it still wins a request both match.
  granted(table, lease("old", "o@h", {m(MatchKind::Exact, "x-dev", "a")}, 7), kNow + 30s);
  const HeaderFields both{{"x-dev", "a"}, {"tenant", "a"}};
  CHECK(winner(table, both) == "old");
  CHECK(routeFor(*table.snapshot(), both, 80)->lease.target.port == 7);

  const auto before = table.snapshot();
  CHECK(table.expire(kNow + 20s) == std::vector<std::string>{"new"});
  CHECK(winner(table, {{"tenant", "a"}}) == "stable");
  CHECK(before->size() == 2u);  // a reader's snapshot is untouched by the change
  CHECK(table.expire(kNow + 20s).empty());
  CHECK(table.drop("old"));
  CHECK_FALSE(table.drop("old"));
  CHECK(winner(table, both) == "stable");
}

TEST_CASE("overlap is ruled out only when one header makes both impossible", "[mesh]") {
  CHECK_FALSE(mayOverlap({m(MatchKind::Exact, "x", "a")}, {m(MatchKind::Exact, "x", "b")}));
  CHECK(mayOverlap({m(MatchKind::Exact, "x", "ab")}, {m(MatchKind::Prefix, "x", "a")}));
  CHECK_FALSE(mayOverlap({m(MatchKind::Exact, "x", "b")}, {m(MatchKind::Prefix, "x", "a")}));
  CHECK_FALSE(mayOverlap({m(MatchKind::Prefix, "x", "ab")}, {m(MatchKind::Prefix, "x", "ac")}));
  CHECK(mayOverlap({m(MatchKind::Regex, "x", "a")}, {m(MatchKind::Exact, "x", "b")}));  // not decided
  CHECK(mayOverlap({m(MatchKind::Exact, "x", "a")}, {m(MatchKind::Exact, "y", "b")}));
  CHECK_FALSE(mayOverlap({m(MatchKind::Baggage, "dev", "a")}, {m(MatchKind::Baggage, "dev", "b")}));
}

TEST_CASE("a lease on one port neither takes another port's requests nor competes there", "[mesh]") {
  RouteTable table;
  auto onHttp = lease("alice-http", "alice", {m(MatchKind::Exact, "x-dev", "alice")}, 7);
  onHttp.port = 80;
  auto onGrpc = lease("alice-grpc", "alice", {m(MatchKind::Exact, "x-dev", "alice")}, 8);
  onGrpc.port = 9090;
  CHECK(granted(table, onHttp).warnings.empty());
  CHECK(granted(table, onGrpc).warnings.empty());  // same matchers, another port: no conflict
  const HeaderFields alice{{"x-dev", "alice"}};
  CHECK(routeFor(*table.snapshot(), alice, 80)->lease.id == "alice-http");
  CHECK(routeFor(*table.snapshot(), alice, 9090)->lease.id == "alice-grpc");
  CHECK(routeFor(*table.snapshot(), alice, 443) == nullptr);
  auto everywhere = lease("bob-all", "bob", {m(MatchKind::Exact, "x-dev", "alice")}, 9);
  CHECK(std::holds_alternative<PutRefused>(table.put(everywhere, kNow + 15s)));  // port 0 meets both
}
