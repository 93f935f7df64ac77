// FuzzMeshMatch.cpp - libFuzzer target for what the mesh router matches against untrusted request headers:
// the first line holds a matcher's name and value (as a user could give them), the other lines are
// "name: value" header fields from a client. Every kind of matcher is made from the first line and run on
// the fields; it checks what must hold whatever the bytes: an exact match is also a prefix match, a
// lease routes only requests all of its matchers take, and nothing throws or reads out of bounds.
// fuzz-links: tether_mesh
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/mesh/Matcher.hpp"
#include "protocol/mesh/RouteTable.hpp"

using namespace tether::mesh;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto firstEnd = input.find('\n');
  const auto first = input.substr(0, firstEnd);
  const auto space = first.find(' ');
  const std::string name(first.substr(0, space));
  const std::string value(space == std::string_view::npos ? std::string_view() : first.substr(space + 1));

  HeaderFields fields;
  for (auto rest = firstEnd == std::string_view::npos ? std::string_view() : input.substr(firstEnd + 1);
       !rest.empty();) {
    const auto end = rest.find('\n');
    const auto line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fields.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }

  std::string error;
  const auto exact = Matcher::make(MatchKind::Exact, name, value, error);
  const auto prefix = Matcher::make(MatchKind::Prefix, name, value, error);
  if (exact && prefix && exact->matches(fields) && !prefix->matches(fields)) std::abort();
  const auto regex = Matcher::make(MatchKind::Regex, name, value, error);
  const auto baggage = Matcher::make(MatchKind::Baggage, name, value, error);
  if (regex) static_cast<void>(regex->matches(fields));
  if (baggage) static_cast<void>(baggage->matches(fields));
  for (const auto& field : fields) static_cast<void>(baggageMember(field.second, name));

  if (exact) {
    RouteTable table;
    const auto now = RouteTable::Clock::time_point{};
    table.put(Lease{"l", "o", {*exact}, Target{"h", 1}}, now + std::chrono::seconds(1));
    const auto* route = routeFor(*table.snapshot(), fields, 80);
    if ((route != nullptr) != exact->matches(fields)) std::abort();
  }
  return 0;
}
