// Base64.cpp - a small strict decoder: padding must be right, no stray characters.
#include "support/text/Base64.hpp"

#include <array>

namespace tether::support {

namespace {
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int, 256> makeTable() {
  std::array<int, 256> table{};
  for (auto& entry : table) entry = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  return table;
}
constexpr auto kTable = makeTable();
}  // namespace

std::optional<std::string> decodeBase64(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    clean += c;
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (std::size_t i = 0; i < clean.size(); i += 4) {
    int values[4];
    int padding = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = clean[i + static_cast<std::size_t>(j)];
      if (c == '=') {
        // Padding only in the last quantum, only in its last two places, and nothing after it.
        if (i + 4 != clean.size() || j < 2) return std::nullopt;
        ++padding;
        values[j] = 0;
        continue;
      }
      if (padding > 0) return std::nullopt;
      values[j] = kTable[static_cast<unsigned char>(c)];
      if (values[j] < 0) return std::nullopt;
    }
    const unsigned triple = (static_cast<unsigned>(values[0]) << 18) |
                            (static_cast<unsigned>(values[1]) << 12) |
                            (static_cast<unsigned>(values[2]) << 6) | static_cast<unsigned>(values[3]);
    out += static_cast<char>((triple >> 16) & 0xFF);
    if (padding < 2) out += static_cast<char>((triple >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(triple & 0xFF);
  }
  return out;
}

std::string encodeBase64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    unsigned triple = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) triple |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) triple |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(triple >> 18) & 63];
    out += kAlphabet[(triple >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(triple >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[triple & 63] : '=';
  }
  return out;
}

}  // namespace tether::support
