// Message.cpp - request/status lines and header fields, parsed strictly.
#include "protocol/http1/Message.hpp"

#include <algorithm>
#include <cctype>

namespace tether::http1 {

namespace {

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// tchar of RFC 9110 §5.6.2.
bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isTokenChar);
}

// field-value characters: visible ASCII, obs-text, space and tab; never CR, LF or NUL.
bool isFieldValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || u >= 0x20u;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// "HTTP/1.x" -> x, or nullopt; other major versions are reported separately.
std::optional<int> minorVersion(std::string_view text, bool& otherMajor) {
  otherMajor = false;
  if (text.size() != 8 || text.substr(0, 5) != "HTTP/" || text[6] != '.') return std::nullopt;
  if (!std::isdigit(static_cast<unsigned char>(text[5])) ||
      !std::isdigit(static_cast<unsigned char>(text[7])))
    return std::nullopt;
  if (text[5] != '1') {
    otherMajor = true;
    return std::nullopt;
  }
  return text[7] - '0';
}

// Splits the lines after the first into header fields. `lines` starts after the start line's CRLF and
// ends with the blank line's CRLF.
template <typename Head>
bool parseFields(std::string_view lines, const HeadLimits& limits, Parsed<Head>& out, Headers& headers) {
  while (!lines.empty()) {
    const auto end = lines.find("\r\n");
    if (end == std::string_view::npos) {
      out.reason = "a header line does not end in CRLF";
      return false;
    }
    const std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end + 2);
    if (line.empty()) return lines.empty();  // the blank line ends the head
    if (line.front() == ' ' || line.front() == '\t') {
      out.reason = "obsolete line folding in a header field";
      return false;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) {
      out.reason =
          "malformed header field \"" + std::string(line.substr(0, std::min<std::size_t>(colon, 40))) + "\"";
      return false;
    }
    const std::string_view value = trim(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), isFieldValueChar)) {
      out.reason = "a control character in header field " + std::string(line.substr(0, colon));
      return false;
    }
    if (headers.size() >= limits.maxFields) {
      out.error = HeadError::TooLarge;
      out.reason = "more than " + std::to_string(limits.maxFields) + " header fields";
      return false;
    }
    headers.push_back(Header{std::string(line.substr(0, colon)), std::string(value)});
  }
  out.reason = "the head does not end with a blank line";
  return false;
}

}  // namespace

int statusFor(HeadError error) {
  switch (error) {
    case HeadError::Malformed:
      return 400;
    case HeadError::TooLarge:
      return 431;
    case HeadError::UnsupportedVersion:
      return 505;
  }
  return 400;
}

std::optional<std::size_t> headEnd(std::string_view bytes) {
  const auto at = bytes.find("\r\n\r\n");
  if (at == std::string_view::npos) return std::nullopt;
  return at + 4;
}

Parsed<RequestHead> parseRequestHead(std::string_view head, const HeadLimits& limits) {
  Parsed<RequestHead> out;
  const auto lineEnd = head.find("\r\n");
  if (lineEnd == std::string_view::npos || lineEnd == 0) {
    out.reason = "no request line";
    return out;
  }
  const std::string_view line = head.substr(0, lineEnd);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    out.reason = "malformed request line";
    return out;
  }
  RequestHead request;
  request.method = std::string(line.substr(0, sp1));
  request.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (!isToken(request.method)) {
    out.reason = "malformed method";
    return out;
  }
  const bool targetOk =
      !request.target.empty() && std::all_of(request.target.begin(), request.target.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20u && u < 0x7fu;
      });
  if (!targetOk) {
    out.reason = "malformed request target";
    return out;
  }
  bool otherMajor = false;
  const auto minor = minorVersion(line.substr(sp2 + 1), otherMajor);
  if (!minor) {
    out.error = otherMajor ? HeadError::UnsupportedVersion : HeadError::Malformed;
    out.reason = otherMajor ? "only HTTP/1.x is spoken here" : "not an HTTP/1.x request";
    return out;
  }
  request.versionMinor = *minor;
  if (!parseFields(head.substr(lineEnd + 2), limits, out, request.headers)) return out;
  out.head = std::move(request);
  return out;
}

Parsed<ResponseHead> parseResponseHead(std::string_view head, const HeadLimits& limits) {
  Parsed<ResponseHead> out;
  const auto lineEnd = head.find("\r\n");
  if (lineEnd == std::string_view::npos) {
    out.reason = "no status line";
    return out;
  }
  const std::string_view line = head.substr(0, lineEnd);
  // HTTP/1.1 SP 3DIGIT SP reason (the reason may be empty, and the space before it is then optional).
  bool otherMajor = false;
  const auto minor = line.size() >= 12 ? minorVersion(line.substr(0, 8), otherMajor) : std::nullopt;
  const bool digits = line.size() >= 12 && line[8] == ' ' &&
                      std::all_of(line.begin() + 9, line.begin() + 12,
                                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  if (!minor || !digits || (line.size() > 12 && line[12] != ' ')) {
    out.error = otherMajor ? HeadError::UnsupportedVersion : HeadError::Malformed;
    out.reason = "malformed status line";
    return out;
  }
  ResponseHead response;
  response.versionMinor = *minor;
  response.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (response.status < 100) {
    out.reason = "status code below 100";
    return out;
  }
  response.reason = line.size() > 13 ? std::string(line.substr(13)) : std::string();
  // reason-phrase = *( HTAB / SP / VCHAR / obs-text ): a bare CR, LF or NUL in it could end the line early
  // for a client that a proxy forwards it to.
  if (!std::all_of(response.reason.begin(), response.reason.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u == '\t' || (u >= 0x20u && u != 0x7fu);
      })) {
    out.reason = "a control character in the reason phrase";
    return out;
  }
  if (!parseFields(head.substr(lineEnd + 2), limits, out, response.headers)) return out;
  out.head = std::move(response);
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

const Header* find(const Headers& headers, std::string_view name) {
  for (const auto& header : headers) {
    if (equalsIgnoreCase(header.name, name)) return &header;
  }
  return nullptr;
}

std::vector<std::string> tokens(const Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& header : headers) {
    if (!equalsIgnoreCase(header.name, name)) continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto item = trim(rest.substr(0, comma));
      if (!item.empty()) {
        std::string token(item);
        std::transform(token.begin(), token.end(), token.begin(), lower);
        out.push_back(std::move(token));
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

bool hasToken(const Headers& headers, std::string_view name, std::string_view token) {
  const auto all = tokens(headers, name);
  return std::any_of(all.begin(), all.end(),
                     [&](const std::string& t) { return equalsIgnoreCase(t, token); });
}

bool keepsAlive(int versionMinor, const Headers& headers) {
  if (hasToken(headers, "Connection", "close")) return false;
  return versionMinor >= 1 || hasToken(headers, "Connection", "keep-alive");
}

void appendHeaders(std::string& out, const Headers& headers) {
  for (const auto& header : headers) out.append(header.name).append(": ").append(header.value).append("\r\n");
}

}  // namespace tether::http1
