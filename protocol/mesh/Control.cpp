// Control.cpp - see Control.hpp. The grammar is in TUNNEL.md, "Mesh router control".
#include "protocol/mesh/Control.hpp"

#include <charconv>

namespace tether::mesh {

namespace {

constexpr std::size_t kMaxMatchers = 16;
constexpr long long kMaxTtlMs = 24LL * 3600 * 1000;

std::vector<std::string_view> splitSpaces(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (start <= line.size()) {
    const auto space = line.find(' ', start);
    const auto end = space == std::string_view::npos ? line.size() : space;
    fields.push_back(line.substr(start, end - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return fields;
}

std::string_view withoutCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

template <typename Number>
std::optional<Number> number(std::string_view text) {
  Number value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string encodeTarget(const Target& target) {
  return encodeField(target.host) + ":" + std::to_string(target.port);
}

std::optional<Target> parseTarget(std::string_view text, std::string& error) {
  const auto colon = text.rfind(':');
  auto host = colon == std::string_view::npos ? std::nullopt : decodeField(text.substr(0, colon));
  auto port = colon == std::string_view::npos ? std::nullopt : number<std::uint16_t>(text.substr(colon + 1));
  if (!host || host->empty() || !port || *port == 0) {
    error = "the target must be HOST:PORT";
    return std::nullopt;
  }
  return Target{*host, *port};
}

std::string encodeMatcher(const Matcher& matcher) {
  return std::string(toString(matcher.kind())) + ":" + encodeField(matcher.name()) + "=" +
         encodeField(matcher.value());
}

std::optional<Matcher> parseMatcher(std::string_view text, std::string& error) {
  const auto colon = text.find(':');
  const auto equals = text.find('=');
  if (colon == std::string_view::npos || equals == std::string_view::npos || equals < colon) {
    error = "a matcher must be KIND:NAME=VALUE";
    return std::nullopt;
  }
  const auto kind = matchKindFrom(text.substr(0, colon));
  auto name = decodeField(text.substr(colon + 1, equals - colon - 1));
  auto value = decodeField(text.substr(equals + 1));
  if (!kind) {
    error = "unknown matcher kind '" + std::string(text.substr(0, colon)) + "'";
    return std::nullopt;
  }
  if (!name || !value) {
    error = "a matcher's name or value has a malformed %-escape";
    return std::nullopt;
  }
  return Matcher::make(*kind, std::move(*name), std::move(*value), error);
}

// The fields shared by `put` and `route`: ON_PORT HOST:PORT OWNER MATCHER... from `fields[first]` on.
bool parseLeaseTail(const std::vector<std::string_view>& fields, std::size_t first, Lease& lease,
                    std::string& error) {
  if (fields.size() < first + 4) {
    error = "a lease needs the router port it takes (or *), a target, an owner and at least one matcher";
    return false;
  }
  if (fields[first] != "*") {
    const auto port = number<std::uint16_t>(fields[first]);
    if (!port || *port == 0) {
      error = "the router port must be a port number or *";
      return false;
    }
    lease.port = *port;
  }
  ++first;
  if (fields.size() - first - 2 > kMaxMatchers) {
    error = "a lease has at most " + std::to_string(kMaxMatchers) + " matchers";
    return false;
  }
  auto target = parseTarget(fields[first], error);
  auto owner = decodeField(fields[first + 1]);
  if (!target) return false;
  if (!owner || owner->empty()) {
    error = "the owner is empty or malformed";
    return false;
  }
  lease.target = std::move(*target);
  lease.owner = std::move(*owner);
  for (std::size_t i = first + 2; i < fields.size(); ++i) {
    auto matcher = parseMatcher(fields[i], error);
    if (!matcher) return false;
    lease.matchers.push_back(std::move(*matcher));
  }
  return true;
}

std::string encodeLeaseTail(const Lease& lease) {
  std::string line = lease.port == 0 ? std::string(" *") : " " + std::to_string(lease.port);
  line += " " + encodeTarget(lease.target) + " " + encodeField(lease.owner);
  for (const auto& matcher : lease.matchers) line += " " + encodeMatcher(matcher);
  return line;
}

}  // namespace

std::string encodeField(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f || c == '%' || c == ':' || c == '=') {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> decodeField(std::string_view text) {
  return percentDecode(text);
}

std::string encodePut(const Lease& lease, std::chrono::milliseconds ttl) {
  return "put " + encodeField(lease.id) + " " + std::to_string(ttl.count()) + encodeLeaseTail(lease) + "\n";
}

std::string encodeDrop(const std::string& id) {
  return "drop " + encodeField(id) + "\n";
}

std::string encodeList() {
  return "list\n";
}

ControlRequest parseRequest(std::string_view line) {
  line = withoutCr(line);
  if (line.size() > kMaxControlLine) return BadRequest{"the line is longer than the limit"};
  const auto fields = splitSpaces(line);
  const auto verb = fields.front();
  if (verb == "list") {
    if (fields.size() != 1) return BadRequest{"list takes no arguments"};
    return ListRequest{};
  }
  if (verb == "drop") {
    auto id = fields.size() == 2 ? decodeField(fields[1]) : std::nullopt;
    if (!id || id->empty()) return BadRequest{"drop needs one lease id"};
    return DropRequest{std::move(*id)};
  }
  if (verb == "put") {
    if (fields.size() < 3) return BadRequest{"put needs ID TTL_MS ON_PORT HOST:PORT OWNER MATCHER..."};
    PutRequest put;
    auto id = decodeField(fields[1]);
    const auto ttl = number<long long>(fields[2]);
    if (!id || id->empty()) return BadRequest{"the lease id is empty or malformed"};
    if (!ttl || *ttl <= 0 || *ttl > kMaxTtlMs)
      return BadRequest{"the TTL must be a number of milliseconds between 1 and one day"};
    put.lease.id = std::move(*id);
    put.ttl = std::chrono::milliseconds(*ttl);
    std::string error;
    if (!parseLeaseTail(fields, 3, put.lease, error)) return BadRequest{std::move(error)};
    return put;
  }
  return BadRequest{"unknown request '" + encodeField(verb.substr(0, 32)) + "': expected put, drop or list"};
}

std::string encodeReply(const ControlReply& reply) {
  switch (reply.kind) {
    case ControlReply::Kind::Granted: {
      std::string line = "granted";
      for (const auto& warning : reply.warnings) line += " " + encodeField(warning);
      return line + "\n";
    }
    case ControlReply::Kind::Refused:
      return "refused " + encodeField(reply.message) + "\n";
    case ControlReply::Kind::Dropped:
      return "dropped\n";
    case ControlReply::Kind::Unknown:
      return "unknown " + encodeField(reply.message) + "\n";
    case ControlReply::Kind::Routes:
      return "routes " + std::to_string(reply.count) + "\n";
    case ControlReply::Kind::Error:
      break;
  }
  return "error " + encodeField(reply.message) + "\n";
}

std::optional<ControlReply> parseReply(std::string_view line) {
  line = withoutCr(line);
  if (line.size() > kMaxControlLine) return std::nullopt;
  const auto fields = splitSpaces(line);
  ControlReply reply;
  const auto verb = fields.front();
  auto message = [&]() -> bool {
    if (fields.size() != 2) return false;
    auto text = decodeField(fields[1]);
    if (!text) return false;
    reply.message = std::move(*text);
    return true;
  };
  if (verb == "granted") {
    reply.kind = ControlReply::Kind::Granted;
    for (std::size_t i = 1; i < fields.size(); ++i) {
      auto warning = decodeField(fields[i]);
      if (!warning) return std::nullopt;
      reply.warnings.push_back(std::move(*warning));
    }
    return reply;
  }
  if (verb == "dropped") {
    reply.kind = ControlReply::Kind::Dropped;
    return fields.size() == 1 ? std::optional(reply) : std::nullopt;
  }
  if (verb == "routes") {
    reply.kind = ControlReply::Kind::Routes;
    const auto count = fields.size() == 2 ? number<std::size_t>(fields[1]) : std::nullopt;
    if (!count) return std::nullopt;
    reply.count = *count;
    return reply;
  }
  if (verb == "refused")
    reply.kind = ControlReply::Kind::Refused;
  else if (verb == "unknown")
    reply.kind = ControlReply::Kind::Unknown;
  else if (verb == "error")
    reply.kind = ControlReply::Kind::Error;
  else
    return std::nullopt;
  return message() ? std::optional(reply) : std::nullopt;
}

std::string encodeRouteLine(const RouteLine& route) {
  return "route " + encodeField(route.lease.id) + " " + std::to_string(route.left.count()) +
         encodeLeaseTail(route.lease) + "\n";
}

std::optional<RouteLine> parseRouteLine(std::string_view line, std::string& error) {
  line = withoutCr(line);
  const auto fields = splitSpaces(line);
  if (fields.front() != "route" || fields.size() < 3) {
    error = "expected a route line";
    return std::nullopt;
  }
  RouteLine route;
  auto id = decodeField(fields[1]);
  const auto left = number<long long>(fields[2]);
  if (!id || !left) {
    error = "a route line needs an id and the milliseconds it has left";
    return std::nullopt;
  }
  route.lease.id = std::move(*id);
  route.left = std::chrono::milliseconds(*left);
  if (!parseLeaseTail(fields, 3, route.lease, error)) return std::nullopt;
  return route;
}

}  // namespace tether::mesh
