// Message.hpp - sans-io reading of HTTP/1.x message heads (RFC 9112 §2-§5): the request or status line and
// the header fields, with the limits and refusals a proxy needs. Heads are parsed whole: the caller finds
// the blank line with `headEnd` first, so a parser never sees half a head.
//
// Strict on purpose, because a proxy that reads a head differently from the server behind it can be made
// to smuggle requests: lines end in CRLF, a field name is a token directly followed by ':', obsolete line
// folding and control characters in values are refused.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::http1 {

struct Header {
  std::string name;   // as sent (compare with equalsIgnoreCase)
  std::string value;  // without surrounding whitespace
};
using Headers = std::vector<Header>;

struct RequestHead {
  std::string method;
  std::string target;    // as sent: origin form (/path), absolute form (http://h/p), authority (h:p) or *
  int versionMinor = 1;  // HTTP/1.<minor>
  Headers headers;
};

struct ResponseHead {
  int versionMinor = 1;
  int status = 0;
  std::string reason;
  Headers headers;
};

// Why a head was refused; a server answers with the status named here.
enum class HeadError {
  Malformed,           // 400
  TooLarge,            // 431: more fields than the limit (the byte limit is the caller's, see headEnd)
  UnsupportedVersion,  // 505
};
int statusFor(HeadError error);

template <typename Head>
struct Parsed {
  std::optional<Head> head;
  HeadError error = HeadError::Malformed;
  std::string reason;  // what was wrong, for the error response and the log
};

struct HeadLimits {
  std::size_t maxFields = 100;
};

// Offset just past the blank line that ends a head in `bytes` ("\r\n\r\n"), or nullopt while incomplete.
std::optional<std::size_t> headEnd(std::string_view bytes);

// `head` runs up to and including its blank line.
Parsed<RequestHead> parseRequestHead(std::string_view head, const HeadLimits& limits = {});
Parsed<ResponseHead> parseResponseHead(std::string_view head, const HeadLimits& limits = {});

bool equalsIgnoreCase(std::string_view a, std::string_view b);
// The first field named `name`, or nullptr.
const Header* find(const Headers& headers, std::string_view name);
// Every comma-separated element of every field named `name`, trimmed and lower-cased (Connection, TE).
std::vector<std::string> tokens(const Headers& headers, std::string_view name);
bool hasToken(const Headers& headers, std::string_view name, std::string_view token);

// Whether the connection stays open after this message (RFC 9112 §9.3): HTTP/1.1 unless "close",
// HTTP/1.0 only with "keep-alive".
bool keepsAlive(int versionMinor, const Headers& headers);

// Appends "Name: value\r\n" for each field.
void appendHeaders(std::string& out, const Headers& headers);

}  // namespace tether::http1
