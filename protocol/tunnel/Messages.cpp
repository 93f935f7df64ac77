// Messages.cpp - control payload encoders and parsers.
#include "protocol/tunnel/Messages.hpp"

#include <algorithm>

#include "protocol/tunnel/Wire.hpp"

namespace tether::tunnel {

namespace {

void writePrefix(WireWriter& w, std::uint16_t version) {
  w.raw(kMagic);
  w.u16(version);
}

}  // namespace

std::string encode(const Hello& m) {
  std::string out;
  WireWriter w(out);
  writePrefix(w, m.version);
  w.str16(m.nonce);
  w.u32(m.maxFrame);
  w.u32(m.streamWindow);
  w.str16(m.peer);
  return out;
}

std::string encode(const Welcome& m) {
  std::string out;
  WireWriter w(out);
  writePrefix(w, m.version);
  w.u32(m.maxFrame);
  w.u32(m.streamWindow);
  w.str16(m.peer);
  w.str16(m.nonce);
  w.str16(m.identity);
  w.str16(m.proof);
  return out;
}

std::string encode(const Auth& m) {
  std::string out;
  WireWriter w(out);
  w.str16(m.proof);
  return out;
}

std::string encode(const Open& m) {
  std::string out;
  WireWriter w(out);
  w.u8(static_cast<std::uint8_t>(m.kind));
  w.u16(m.port);
  w.str16(m.host);
  if (!m.local.empty()) w.str16(m.local);
  return out;
}

std::string encode(const Status& m) {
  std::string out;
  WireWriter w(out);
  w.u32(static_cast<std::uint32_t>(m.code));
  w.str16(m.message);
  return out;
}

std::string encode(const DnsReply& m) {
  std::string out;
  WireWriter w(out);
  w.u32(static_cast<std::uint32_t>(m.code));
  w.str16(m.message);
  w.raw(m.answer);
  return out;
}

std::string encode(const ListenResult& m) {
  std::string out;
  WireWriter w(out);
  w.u32(static_cast<std::uint32_t>(m.code));
  w.u16(m.port);
  w.str16(m.message);
  return out;
}

std::string encodeU16(std::uint16_t v) {
  std::string out;
  WireWriter(out).u16(v);
  return out;
}

std::string encodeU32(std::uint32_t v) {
  std::string out;
  WireWriter(out).u32(v);
  return out;
}

std::string encodeU64(std::uint64_t v) {
  std::string out;
  WireWriter(out).u64(v);
  return out;
}

std::optional<std::uint16_t> versionOf(std::string_view payload) {
  WireReader r(payload);
  auto magic = r.bytes(kMagic.size());
  if (!magic || *magic != kMagic) return std::nullopt;
  return r.u16();
}

std::optional<Hello> parseHello(std::string_view payload) {
  WireReader r(payload);
  auto magic = r.bytes(kMagic.size());
  if (!magic || *magic != kMagic) return std::nullopt;
  auto version = r.u16();
  auto nonce = r.str16();
  auto maxFrame = r.u32();
  auto window = r.u32();
  auto peer = r.str16();
  if (!version || !nonce || !maxFrame || !window || !peer) return std::nullopt;
  return Hello{*version, std::string(*nonce), *maxFrame, *window, std::string(*peer)};
}

std::optional<Welcome> parseWelcome(std::string_view payload) {
  WireReader r(payload);
  auto magic = r.bytes(kMagic.size());
  if (!magic || *magic != kMagic) return std::nullopt;
  auto version = r.u16();
  auto maxFrame = r.u32();
  auto window = r.u32();
  auto peer = r.str16();
  auto nonce = r.str16();
  auto identity = r.str16();
  auto proof = r.str16();
  if (!version || !maxFrame || !window || !peer || !nonce || !identity || !proof) return std::nullopt;
  return Welcome{*version,           *maxFrame,           *window,
                 std::string(*peer), std::string(*nonce), std::string(*identity),
                 std::string(*proof)};
}

std::optional<Auth> parseAuth(std::string_view payload) {
  WireReader r(payload);
  auto proof = r.str16();
  if (!proof) return std::nullopt;
  return Auth{std::string(*proof)};
}

std::optional<Open> parseOpen(std::string_view payload) {
  WireReader r(payload);
  auto kind = r.u8();
  auto port = r.u16();
  auto host = r.str16();
  if (!kind || !port || !host) return std::nullopt;
  if (*kind > static_cast<std::uint8_t>(OpenKind::FromListener)) return std::nullopt;
  const auto local = r.str16();  // absent from older agents
  return Open{static_cast<OpenKind>(*kind), *port, std::string(*host),
              local ? std::string(*local) : std::string()};
}

std::optional<Status> parseStatus(std::string_view payload) {
  WireReader r(payload);
  auto code = r.u32();
  auto message = r.str16();
  if (!code || !message) return std::nullopt;
  return Status{codeFromWire(*code), std::string(*message)};
}

std::optional<DnsReply> parseDnsReply(std::string_view payload) {
  WireReader r(payload);
  auto code = r.u32();
  auto message = r.str16();
  if (!code || !message) return std::nullopt;
  return DnsReply{codeFromWire(*code), std::string(*message), std::string(r.rest())};
}

std::optional<ListenResult> parseListenResult(std::string_view payload) {
  WireReader r(payload);
  auto code = r.u32();
  auto port = r.u16();
  auto message = r.str16();
  if (!code || !port || !message) return std::nullopt;
  return ListenResult{codeFromWire(*code), *port, std::string(*message)};
}

std::optional<std::uint16_t> parseU16(std::string_view payload) {
  return WireReader(payload).u16();
}
std::optional<std::uint32_t> parseU32(std::string_view payload) {
  return WireReader(payload).u32();
}
std::optional<std::uint64_t> parseU64(std::string_view payload) {
  return WireReader(payload).u64();
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  // Every byte of the longer input is visited whatever matches, and the length difference is folded in.
  const std::size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

}  // namespace tether::tunnel
