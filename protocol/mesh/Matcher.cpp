// Matcher.cpp - see Matcher.hpp.
#include "protocol/mesh/Matcher.hpp"

#include <re2/re2.h>

#include <algorithm>

namespace tether::mesh {

namespace {

constexpr std::size_t kMaxName = 256;
constexpr std::size_t kMaxValue = 4096;

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool sameName(std::string_view a, std::string_view lowered) {
  return a.size() == lowered.size() &&
         std::equal(a.begin(), a.end(), lowered.begin(), [](char x, char y) { return lower(x) == y; });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Printable ASCII and tab, as a field value may hold (no CR, LF or NUL).
bool isValueText(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

}  // namespace

namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;  // a `%` needs two hex digits after it
    const int high = hexDigit(text[i + 1]);
    const int low = hexDigit(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::string_view toString(MatchKind kind) {
  switch (kind) {
    case MatchKind::Exact:
      return "exact";
    case MatchKind::Prefix:
      return "prefix";
    case MatchKind::Regex:
      return "regex";
    case MatchKind::Baggage:
      return "baggage";
  }
  return "exact";
}

std::optional<MatchKind> matchKindFrom(std::string_view text) {
  for (auto kind : {MatchKind::Exact, MatchKind::Prefix, MatchKind::Regex, MatchKind::Baggage}) {
    if (text == toString(kind)) return kind;
  }
  return std::nullopt;
}

bool isFieldName(std::string_view name) {
  static constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kTokenPunctuation.find(c) != std::string_view::npos;
  });
}

Matcher::Matcher(MatchKind kind, std::string name, std::string value, std::shared_ptr<const re2::RE2> regex)
    : kind_(kind), name_(std::move(name)), value_(std::move(value)), regex_(std::move(regex)) {}

std::optional<Matcher> Matcher::make(MatchKind kind, std::string name, std::string value,
                                     std::string& error) {
  const std::string what = std::string(toString(kind)) + " matcher";
  if (name.empty() || name.size() > kMaxName || !isFieldName(name)) {
    error = what + ": \"" + name + "\" is not a " +
            (kind == MatchKind::Baggage ? "baggage key" : "header name") +
            " (letters, digits and !#$%&'*+-.^_`|~, at most 256)";
    return std::nullopt;
  }
  if (value.size() > kMaxValue || !isValueText(value)) {
    error = what + " on " + name + ": the value must be printable text of at most 4096 bytes";
    return std::nullopt;
  }
  if (kind == MatchKind::Exact && value.empty()) {
    error = what + " on " + name + ": give the value the header must have";
    return std::nullopt;
  }
  std::transform(name.begin(), name.end(), name.begin(), lower);
  std::shared_ptr<const re2::RE2> regex;
  if (kind == MatchKind::Regex) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(1 << 20);
    auto compiled = std::make_shared<const re2::RE2>(value, options);
    if (!compiled->ok()) {
      error = what + " on " + name + ": \"" + value + "\" is not a valid regular expression (" +
              compiled->error() + ")";
      return std::nullopt;
    }
    regex = std::move(compiled);
  }
  return Matcher(kind, std::move(name), std::move(value), std::move(regex));
}

bool Matcher::matchesValue(std::string_view value) const {
  switch (kind_) {
    case MatchKind::Exact:
      return value == value_;
    case MatchKind::Prefix:
      return value.substr(0, value_.size()) == value_;
    case MatchKind::Regex:
      return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *regex_);
    case MatchKind::Baggage: {
      const auto member = baggageMember(value, name_);
      return member && *member == value_;
    }
  }
  return false;
}

bool Matcher::matches(const HeaderFields& fields) const {
  const std::string_view header = kind_ == MatchKind::Baggage ? std::string_view("baggage") : name_;
  return std::any_of(fields.begin(), fields.end(), [&](const auto& field) {
    return sameName(field.first, header) && matchesValue(trim(field.second));
  });
}

std::string Matcher::describe() const {
  switch (kind_) {
    case MatchKind::Exact:
      return name_ + "=" + value_;
    case MatchKind::Prefix:
      return name_ + "^=" + value_;
    case MatchKind::Regex:
      return name_ + "~=" + value_;
    case MatchKind::Baggage:
      return "baggage:" + name_ + "=" + value_;
  }
  return name_;
}

std::optional<std::string> baggageMember(std::string_view header, std::string_view key) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    const auto member = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const auto pair = trim(member.substr(0, member.find(';')));  // properties after `;` do not count
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (trim(pair.substr(0, equals)) != key) continue;
    return percentDecode(trim(pair.substr(equals + 1)));
  }
  return std::nullopt;
}

}  // namespace tether::mesh
