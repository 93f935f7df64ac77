// Matcher.hpp - which requests a mesh lease takes: header matchers, stated explicitly (exact, prefix,
// regex) and never guessed from the value, plus one member of the W3C `baggage` header. Shared by the
// backend (it checks a user's matchers before anything is created) and the router (it routes by them).
//
// Sans-io: no I/O, no clock, no logging. Header names are compared case-insensitively (HTTP/2 names are
// lower case on the wire); every value of a repeated header is tried.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace re2 {
class RE2;
}

namespace tether::mesh {

enum class MatchKind { Exact, Prefix, Regex, Baggage };
std::string_view toString(MatchKind kind);
std::optional<MatchKind> matchKindFrom(std::string_view text);

// The request's header fields as they arrived (names in any case; a repeated header appears repeatedly).
using HeaderFields = std::vector<std::pair<std::string, std::string>>;

class Matcher {
 public:
  // A matcher whose name and value passed `check`; nullopt (and `error` naming what is wrong) otherwise.
  // Exact, Prefix: `name` is a header name, `value` what it must equal or start with.
  // Regex: `value` must match the header's whole value (RE2 syntax: linear time, whatever the input).
  // Baggage: `name` is a baggage member's key, `value` what that member's (percent-decoded) value must equal.
  static std::optional<Matcher> make(MatchKind kind, std::string name, std::string value, std::string& error);

  MatchKind kind() const { return kind_; }
  const std::string& name() const { return name_; }  // lower case for header kinds
  const std::string& value() const { return value_; }
  bool matches(const HeaderFields& fields) const;
  // "x-dev=alice" (exact), "x-dev^=ali" (prefix), "x-dev~=a.*" (regex), "baggage:user=alice".
  std::string describe() const;

  friend bool operator==(const Matcher& a, const Matcher& b) {
    return a.kind_ == b.kind_ && a.name_ == b.name_ && a.value_ == b.value_;
  }
  friend bool operator<(const Matcher& a, const Matcher& b) {
    return std::tie(a.kind_, a.name_, a.value_) < std::tie(b.kind_, b.name_, b.value_);
  }

 private:
  Matcher(MatchKind kind, std::string name, std::string value, std::shared_ptr<const re2::RE2> regex);
  bool matchesValue(std::string_view value) const;

  MatchKind kind_;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> regex_;  // Regex only
};

// The value of baggage member `key` in one `baggage` header value (W3C Baggage: comma-separated
// `key=value;properties`, optional whitespace, percent-encoded values); nullopt when it is absent or the
// member is malformed. Bounded by the header's size; never throws.
std::optional<std::string> baggageMember(std::string_view header, std::string_view key);

// `%XX` escapes decoded (baggage values, the router's control lines); nullopt for a `%` without two hex
// digits after it.
std::optional<std::string> percentDecode(std::string_view text);

// True when `name` is an HTTP field name (RFC 9110 token).
bool isFieldName(std::string_view name);

}  // namespace tether::mesh
