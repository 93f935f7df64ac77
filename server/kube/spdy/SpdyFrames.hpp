// SpdyFrames.hpp - SPDY/3.1 framing, as much of it as kubectl's port-forward protocol uses
// (k8s-api-notes.md §8.2), encoded and decoded without any I/O so that tests and the fuzzer can drive it.
//
// A control frame is `0x80 0x03 type:2 flags:1 length:3 payload`; a data frame is
// `streamId:4 (top bit 0) flags:1 length:3 data`. Everything is big-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::kube::spdy {

inline constexpr std::uint16_t kVersion = 3;
inline constexpr std::uint8_t kFlagFin = 0x01;
inline constexpr std::size_t kFrameHeaderSize = 8;
inline constexpr std::size_t kMaxLength = 0xFFFFFF;  // the 24-bit length field

enum class ControlType : std::uint16_t {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
};

// RST_STREAM status codes (SPDY/3 §2.6.3) that a port-forward client sends or reports.
enum class ResetStatus : std::uint32_t {
  ProtocolError = 1,
  InvalidStream = 2,
  RefusedStream = 3,
  Cancel = 5,
  InternalError = 6,
};

struct Frame {
  bool control = false;
  std::uint16_t type = 0;      // control frames only
  std::uint32_t streamId = 0;  // data frames only
  std::uint8_t flags = 0;
  std::string_view payload;  // valid until the reader is fed or asked again
};

// Cuts a byte stream (WebSocket messages may split frames anywhere) into frames. A frame whose
// length is over `maxPayload` or a control frame of another SPDY version is a connection error: the
// reader stops and says why, before buffering any of that frame's payload.
class FrameReader {
 public:
  explicit FrameReader(std::size_t maxPayload) : maxPayload_(maxPayload) {}

  void feed(std::string_view bytes);
  std::optional<Frame> next();
  const std::optional<std::string>& error() const { return error_; }
  std::size_t buffered() const { return buffer_.size() - begin_; }

 private:
  std::size_t maxPayload_;
  std::string buffer_;
  std::size_t begin_ = 0;
  std::optional<std::string> error_;
};

void appendControl(std::string& out, ControlType type, std::uint8_t flags, std::string_view payload);
void appendData(std::string& out, std::uint32_t streamId, std::uint8_t flags, std::string_view data);
void appendU32(std::string& out, std::uint32_t value);
std::uint32_t readU32(std::string_view bytes);  // the first four bytes, big-endian

}  // namespace tether::kube::spdy
