// ControlTests.cpp - the router's control lines: what a backend encodes the router reads back the same,
// odd bytes in values survive, and malformed lines are refused naming what is wrong.
#include <catch2/catch.hpp>

#include "protocol/mesh/Control.hpp"

using namespace tether::mesh;

namespace {

Matcher make(MatchKind kind, const std::string& name, const std::string& value) {
  std::string error;
  auto matcher = Matcher::make(kind, name, value, error);
  REQUIRE(matcher);
  return *matcher;
}

}  // namespace

TEST_CASE("control: a put survives the round trip, odd bytes included", "[mesh]") {
  Lease lease;
  lease.id = "sess 1";
  lease.owner = "alice@laptop";
  lease.target = {"10.0.0.7", 7700};
  lease.port = 8080;
  lease.matchers = {make(MatchKind::Exact, "X-Dev", "alice = smith: 100%"),
                    make(MatchKind::Regex, "x-t", "a b|c"), make(MatchKind::Baggage, "user", "al ice")};
  const auto line = encodePut(lease, std::chrono::milliseconds(15000));
  CHECK(line.back() == '\n');
  CHECK(line.find(' ', line.find("alice%20")) != std::string::npos);
  auto parsed = parseRequest(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(std::holds_alternative<PutRequest>(parsed));
  const auto& put = std::get<PutRequest>(parsed);
  CHECK(put.ttl == std::chrono::milliseconds(15000));
  CHECK(put.lease.id == "sess 1");
  CHECK(put.lease.owner == "alice@laptop");
  CHECK(put.lease.target.host == "10.0.0.7");
  CHECK(put.lease.target.port == 7700);
  CHECK(put.lease.port == 8080);
  CHECK(put.lease.matchers == lease.matchers);

  RouteLine route{lease, std::chrono::milliseconds(1234)};
  std::string error;
  const auto routeText = encodeRouteLine(route);
  auto back = parseRouteLine(std::string_view(routeText).substr(0, routeText.size() - 1), error);
  REQUIRE(back);
  CHECK(back->left == std::chrono::milliseconds(1234));
  CHECK(back->lease.matchers == lease.matchers);
}

TEST_CASE("control: drop, list and the replies", "[mesh]") {
  CHECK(std::get<DropRequest>(parseRequest("drop a%2Fb\r")).id == "a/b");
  CHECK(std::holds_alternative<ListRequest>(parseRequest("list")));
  ControlReply granted;
  granted.kind = ControlReply::Kind::Granted;
  granted.warnings = {"overlaps bob's lease", "and carol's"};
  const auto text = encodeReply(granted);
  auto reply = parseReply(std::string_view(text).substr(0, text.size() - 1));
  REQUIRE(reply);
  CHECK(reply->kind == ControlReply::Kind::Granted);
  CHECK(reply->warnings == granted.warnings);
  CHECK(parseReply("routes 3")->count == 3);
  CHECK(parseReply("refused held%20by%20bob")->message == "held by bob");
  CHECK_FALSE(parseReply("routes x"));
  CHECK_FALSE(parseReply("hello"));
}

TEST_CASE("control: malformed lines are refused naming what is wrong", "[mesh]") {
  auto message = [](std::string_view line) {
    auto parsed = parseRequest(line);
    return std::holds_alternative<BadRequest>(parsed) ? std::get<BadRequest>(parsed).message : "(accepted)";
  };
  CHECK(message("").find("unknown request") != std::string::npos);
  CHECK(message("put").find("put needs") != std::string::npos);
  CHECK(message("put a 0 * h:1 o exact:x=y").find("TTL") != std::string::npos);
  CHECK(message("put a 99999999999 * h:1 o exact:x=y").find("TTL") != std::string::npos);
  CHECK(message("put a 100 * h o exact:x=y").find("HOST:PORT") != std::string::npos);
  CHECK(message("put a 100 * h:0 o exact:x=y").find("HOST:PORT") != std::string::npos);
  CHECK(message("put a 100 * h:1 o").find("at least one matcher") != std::string::npos);
  CHECK(message("put a 100 * h:1 o fuzzy:x=y").find("unknown matcher kind 'fuzzy'") != std::string::npos);
  CHECK(message("put a 100 * h:1 o exact:x=%zz").find("%-escape") != std::string::npos);
  CHECK(message("put a 100 * h:1 o exact:bad%20name=y").find("name") != std::string::npos);
  CHECK(message("put a 100 * h:1 o regex:x=(").find("regex") != std::string::npos);
  CHECK(message("put a 100 0 h:1 o exact:x=y").find("router port") != std::string::npos);
  CHECK(message("put a 100 x h:1 o exact:x=y").find("router port") != std::string::npos);
  CHECK(message("drop").find("drop needs") != std::string::npos);
  CHECK(message("list all").find("no arguments") != std::string::npos);
  CHECK(message(std::string(kMaxControlLine + 1, 'l')).find("longer") != std::string::npos);
  CHECK(decodeField("%4") == std::nullopt);
  CHECK(decodeField("%41%42") == "AB");
}
