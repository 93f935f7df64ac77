// Frame.hpp - the frame vocabulary of the backend <-> shadow tunnel (protocol/TUNNEL.md): frame
// types, reset codes, the fixed header, and the limits a decoder enforces.
//
// One header for the numbers, so the codec, the multiplexer and TUNNEL.md speak of the same values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tether::tunnel {

inline constexpr std::uint16_t kProtocolVersion = 2;
inline constexpr std::string_view kMagic = "TTHR";
inline constexpr std::size_t kHeaderSize = 10;
inline constexpr std::uint8_t kFlagIgnorable = 0x80;

enum class FrameType : std::uint8_t {
  Hello = 0x01,
  Welcome = 0x02,
  Open = 0x03,
  Accept = 0x04,
  Data = 0x05,
  Fin = 0x06,
  Reset = 0x07,
  Window = 0x08,
  Ping = 0x09,
  Pong = 0x0A,
  DnsQuery = 0x0B,
  DnsReply = 0x0C,
  Listen = 0x0D,
  ListenResult = 0x0E,
  Unlisten = 0x0F,
  Goaway = 0x10,
  Auth = 0x11,
};

// True for the types this version understands; anything else is skipped when IGNORABLE, else fatal.
constexpr bool isKnownType(std::uint8_t type) {
  return type >= 0x01 && type <= 0x11;
}

std::string_view toString(FrameType type);

// Why a stream, listener, DNS query or connection failed. The numbers are on the wire.
enum class Code : std::uint32_t {
  Ok = 0,
  Refused = 1,
  DnsFailure = 2,
  Unreachable = 3,
  ProtocolError = 4,
  FlowControl = 5,
  ShuttingDown = 6,
  Busy = 7,
  Cancelled = 8,
  TransportLost = 9,
  Timeout = 10,
  VersionMismatch = 11,
  BadToken = 12,
  BindFailed = 13,
  NotFound = 14,
  WrongPeer = 15,
};

// Unknown codes from a newer peer read as Refused, as TUNNEL.md promises.
Code codeFromWire(std::uint32_t value);
std::string_view toString(Code code);

struct Frame {
  FrameType type = FrameType::Data;
  std::uint8_t flags = 0;
  std::uint32_t id = 0;
  std::string payload;
};

// A decoded frame whose payload points into the decoder's buffer: valid until the decoder is next fed.
// The driver uses it so that DATA is copied once, from the read buffer straight into its stream.
struct FrameView {
  FrameType type = FrameType::Data;
  std::uint8_t flags = 0;
  std::uint32_t id = 0;
  std::string_view payload;
};

inline FrameView view(const Frame& frame) {
  return FrameView{frame.type, frame.flags, frame.id, frame.payload};
}

struct FrameLimits {
  // Largest payload accepted. DATA frames are sent in chunks of at most the peer's announced value.
  std::size_t maxFrame = 256u * 1024u;
};

}  // namespace tether::tunnel
