// LogRedaction.cpp - walks a JSON message and blanks what must not reach a log.
#include "server/rpc/LogRedaction.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>

namespace tether::rpc {

namespace json = boost::json;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

// Keys whose values are protocol bookkeeping, not secrets, though their names say "token".
bool bookkeeping(std::string_view key) {
  return key == "workDoneToken" || key == "partialResultToken";
}

bool namesASecret(std::string_view key) {
  if (bookkeeping(key)) return false;
  static constexpr std::array<std::string_view, 9> kWords{"token",      "password",    "passwd",
                                                          "secret",     "credential",  "authorization",
                                                          "privatekey", "private_key", "apikey"};
  const auto name = lower(key);
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view word) { return name.find(word) != std::string::npos; });
}

// scheme://user:password@host... -> scheme://user:<redacted>@host..., for every URL in the text.
void redactUrlPasswords(json::string& text) {
  std::string out;
  std::string_view rest(text.data(), text.size());
  bool changed = false;
  for (auto scheme = rest.find("://"); scheme != std::string_view::npos; scheme = rest.find("://")) {
    const auto start = scheme + 3;
    const auto authorityEnd = rest.find_first_of("/?# \t\"'", start);
    const auto authority = rest.substr(
        start, authorityEnd == std::string_view::npos ? std::string_view::npos : authorityEnd - start);
    const auto at = authority.rfind('@');
    const auto colon = at == std::string_view::npos ? at : authority.substr(0, at).find(':');
    if (colon == std::string_view::npos) {
      out.append(rest.substr(0, start));
      rest.remove_prefix(start);
      continue;
    }
    out.append(rest.substr(0, start + colon + 1));
    out.append(kRedacted);
    rest.remove_prefix(start + at);
    changed = true;
  }
  if (!changed) return;
  out.append(rest);
  text = out;
}

void redact(json::value& value) {
  if (auto* object = value.if_object()) {
    for (auto& member : *object) {
      const std::string_view key = member.key();
      if (key == "env" || key == "baseEnv") {
        if (auto* variables = member.value().if_object()) {
          for (auto& variable : *variables) variable.value() = kRedacted;
        } else {
          member.value() = kRedacted;
        }
      } else if (namesASecret(key) && !member.value().is_null()) {
        member.value() = kRedacted;
      } else {
        redact(member.value());
      }
    }
  } else if (auto* array = value.if_array()) {
    for (auto& item : *array) redact(item);
  } else if (auto* text = value.if_string()) {
    redactUrlPasswords(*text);
  }
}

}  // namespace

std::string redactedForLog(std::string_view body) {
  boost::system::error_code ec;
  auto value = json::parse(body, ec);
  if (ec) return "(" + std::to_string(body.size()) + " bytes, not JSON: not shown)";
  redact(value);
  return json::serialize(value);
}

}  // namespace tether::rpc
