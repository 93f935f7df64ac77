// Codec.hpp - sans-io encoder and decoder of tunnel frames (10-byte header + payload).
//
// The decoder owns no I/O: a driver feeds whatever a read returned (a byte, many frames, a partial
// header) and pops frames. The length in a header is checked against the limit before a single
// payload byte is buffered, so a hostile or corrupt peer cannot make us allocate; any violation is a
// terminal error, because a byte stream has no way to resynchronise after a bad length.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/tunnel/Frame.hpp"

namespace tether::tunnel {

// Appends one frame to `out`. The payload must not exceed the peer's max frame (callers chunk DATA).
void encodeFrame(std::string& out, FrameType type, std::uint32_t id, std::string_view payload,
                 std::uint8_t flags = 0);

struct DecodeError {
  std::string message;
};

class FrameDecoder {
 public:
  explicit FrameDecoder(FrameLimits limits = {}) : limits_(limits) {}

  // Appends bytes; after an error further input is ignored.
  void feed(std::string_view bytes);
  // The next complete frame, the terminal error, or nullopt when more bytes are needed. Frames of an
  // unknown type flagged IGNORABLE are skipped here and never returned.
  std::optional<std::variant<Frame, DecodeError>> next();

  bool failed() const { return failed_; }
  // True when no partial frame is buffered; at EOF a false here means the peer stopped mid-frame.
  bool atFrameBoundary() const { return buffer_.size() == offset_; }
  // Bytes held for an unfinished frame (tests prove oversized frames are never buffered).
  std::size_t bufferedBytes() const { return buffer_.size() - offset_; }
  void setLimits(FrameLimits limits) { limits_ = limits; }

 private:
  void compact();

  FrameLimits limits_;
  std::string buffer_;
  std::size_t offset_ = 0;
  bool failed_ = false;
  std::size_t skipRemaining_ = 0;  // payload bytes of an ignorable unknown frame still to drop
};

}  // namespace tether::tunnel
