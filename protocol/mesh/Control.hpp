// Control.hpp - the mesh router's control lines (TUNNEL.md, "Mesh router control"): a backend puts, renews
// and drops its lease, and anyone may list the table. One request per line, one reply per line (a list's
// reply announces how many route lines follow). Every field is percent-encoded, so a header value with
// spaces or '=' travels unchanged and a line can never be split differently by the two ends.
//
// Sans-io, shared by the backend (it encodes requests and reads replies) and the router (the reverse).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/mesh/RouteTable.hpp"

namespace tether::mesh {

// The longest control line either end reads, its newline excluded.
inline constexpr std::size_t kMaxControlLine = 64u * 1024u;

struct PutRequest {
  Lease lease;
  std::chrono::milliseconds ttl{0};
};
struct DropRequest {
  std::string id;
};
struct ListRequest {};
struct BadRequest {
  std::string message;  // what was wrong with the line
};
using ControlRequest = std::variant<PutRequest, DropRequest, ListRequest, BadRequest>;

std::string encodePut(const Lease& lease, std::chrono::milliseconds ttl);
std::string encodeDrop(const std::string& id);
std::string encodeList();
// `line` without its newline (a trailing '\r' is ignored).
ControlRequest parseRequest(std::string_view line);

// Replies. `granted` carries the warnings of an overlapping grant; `routes` is followed by `count` route
// lines, each read with parseRouteLine.
struct ControlReply {
  enum class Kind { Granted, Refused, Dropped, Unknown, Routes, Error };
  Kind kind = Kind::Error;
  std::vector<std::string> warnings;  // Granted
  std::string message;                // Refused, Unknown, Error
  std::size_t count = 0;              // Routes
};
std::string encodeReply(const ControlReply& reply);
std::optional<ControlReply> parseReply(std::string_view line);

// One entry of a list: the lease and the time it has left.
struct RouteLine {
  Lease lease;
  std::chrono::milliseconds left{0};
};
std::string encodeRouteLine(const RouteLine& route);
std::optional<RouteLine> parseRouteLine(std::string_view line, std::string& error);

// Percent-encoding of one field: bytes outside printable ASCII, space, '%', ':' and '=' become %XX.
std::string encodeField(std::string_view text);
std::optional<std::string> decodeField(std::string_view text);

}  // namespace tether::mesh
