// LogText.hpp - makes text from outside safe inside a logfmt value: a host name a local client sent, a
// peer's reason, a name from a frame. Backslash, double quote and control characters are escaped, so such
// text can neither end the log line nor fake a field of it; the caller writes the surrounding quotes
// (key=\"{}\").
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace tether::support {

inline std::string logText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace tether::support
