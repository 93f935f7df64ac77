// Sniff.cpp - TLS record header, the HTTP/2 preface, or an HTTP/1.x request line.
#include "protocol/mesh/Sniff.hpp"

#include <algorithm>

namespace tether::mesh {

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

bool isMethodChar(char c) {
  // RFC 9110 methods are tokens; every registered one is upper-case letters (and '-').
  return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

bool isTargetChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte > 0x20 && byte < 0x7f;
}

// Whether `line` (no CRLF yet, possibly cut short) can still become `METHOD SP target SP HTTP/1.x`.
Sniffed requestLine(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size() && isMethodChar(bytes[i])) ++i;
  if (i == bytes.size()) return i <= 32 ? Sniffed::Undecided : Sniffed::Raw;
  if (i == 0 || i > 32 || bytes[i] != ' ') return Sniffed::Raw;
  const std::size_t targetStart = ++i;
  while (i < bytes.size() && isTargetChar(bytes[i])) ++i;
  if (i == bytes.size()) return Sniffed::Undecided;
  if (i == targetStart || bytes[i] != ' ') return Sniffed::Raw;
  const auto version = bytes.substr(i + 1);
  constexpr std::string_view kVersion = "HTTP/1.";
  const auto common = std::min(version.size(), kVersion.size());
  if (version.substr(0, common) != kVersion.substr(0, common)) return Sniffed::Raw;
  if (version.size() <= kVersion.size()) return Sniffed::Undecided;
  if (version[kVersion.size()] < '0' || version[kVersion.size()] > '9') return Sniffed::Raw;
  const auto end = version.substr(kVersion.size() + 1);
  if (end.empty() || end == "\r") return Sniffed::Undecided;
  return end.substr(0, 2) == "\r\n" ? Sniffed::Http1 : Sniffed::Raw;
}

}  // namespace

Sniffed classify(std::string_view bytes) {
  if (bytes.empty()) return Sniffed::Undecided;
  if (bytes[0] == 0x16) {
    if (bytes.size() < 2) return Sniffed::Undecided;
    return bytes[1] == 0x03 ? Sniffed::Tls : Sniffed::Raw;
  }
  const auto common = std::min(bytes.size(), kPreface.size());
  if (bytes.substr(0, common) == kPreface.substr(0, common))
    return bytes.size() >= kPreface.size() ? Sniffed::H2c : Sniffed::Undecided;
  const auto verdict = requestLine(bytes);
  if (verdict == Sniffed::Undecided && bytes.size() >= kMaxSniffedLine) return Sniffed::Http1;
  return verdict;
}

}  // namespace tether::mesh
