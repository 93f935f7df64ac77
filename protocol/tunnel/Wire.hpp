// Wire.hpp - big-endian integer and length-prefixed string helpers for tunnel payloads.
//
// The reader never throws and never reads past its view: every getter returns nullopt once the input
// is short, so payload parsers turn truncation into a value their caller must look at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::tunnel {

class WireWriter {
 public:
  explicit WireWriter(std::string& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  // Strings longer than 65535 bytes are cut: every str16 field carries names or messages, never data.
  void str16(std::string_view s) {
    if (s.size() > 0xFFFF) s = s.substr(0, 0xFFFF);
    u16(static_cast<std::uint16_t>(s.size()));
    out_.append(s);
  }
  void raw(std::string_view s) { out_.append(s); }

 private:
  std::string& out_;
};

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}
  std::optional<std::uint8_t> u8() {
    if (in_.empty()) return std::nullopt;
    const auto v = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    return v;
  }
  std::optional<std::uint16_t> u16() {
    auto hi = u8();
    auto lo = u8();
    if (!hi || !lo) return std::nullopt;
    return static_cast<std::uint16_t>((*hi << 8) | *lo);
  }
  std::optional<std::uint32_t> u32() {
    auto hi = u16();
    auto lo = u16();
    if (!hi || !lo) return std::nullopt;
    return (static_cast<std::uint32_t>(*hi) << 16) | *lo;
  }
  std::optional<std::uint64_t> u64() {
    auto hi = u32();
    auto lo = u32();
    if (!hi || !lo) return std::nullopt;
    return (static_cast<std::uint64_t>(*hi) << 32) | *lo;
  }
  std::optional<std::string_view> str16() {
    auto n = u16();
    if (!n || in_.size() < *n) return std::nullopt;
    auto s = in_.substr(0, *n);
    in_.remove_prefix(*n);
    return s;
  }
  std::optional<std::string_view> bytes(std::size_t n) {
    if (in_.size() < n) return std::nullopt;
    auto s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }
  std::string_view rest() {
    auto s = in_;
    in_ = {};
    return s;
  }

 private:
  std::string_view in_;
};

}  // namespace tether::tunnel
