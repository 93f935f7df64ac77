// Codec.hpp - sans-io encoder and decoder of tunnel frames (10-byte header + payload).
//
// The decoder owns no I/O: a driver feeds whatever a read returned (a byte, many frames, a partial
// header) and pops frames. The length in a header is checked against the limit before a single
// payload byte is buffered, so a hostile or corrupt peer cannot make us allocate; any violation is a
// terminal error, because a byte stream has no way to resynchronise after a bad length.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/tunnel/ByteBuffer.hpp"
#include "protocol/tunnel/Frame.hpp"

namespace tether::tunnel {

// Appends one frame to `out`. The payload must not exceed the peer's max frame (callers chunk DATA).
void encodeFrame(std::string& out, FrameType type, std::uint32_t id, std::string_view payload,
                 std::uint8_t flags = 0);
void encodeFrame(ByteBuffer& out, FrameType type, std::uint32_t id, std::string_view payload,
                 std::uint8_t flags = 0);
// Writes the kHeaderSize bytes of a header at `at`, for a payload that is (or will be) placed behind it.
void encodeHeader(char* at, FrameType type, std::uint32_t id, std::uint32_t length, std::uint8_t flags = 0);

struct DecodeError {
  std::string message;
};

class FrameDecoder {
 public:
  explicit FrameDecoder(FrameLimits limits = {}) : limits_(limits) {}

  // Appends bytes; after an error further input is ignored.
  void feed(std::string_view bytes);
  // Zero-copy feeding: a read goes straight into prepare()'s space, then commit() says how much arrived.
  // Nothing else may touch the decoder in between.
  char* prepare(std::size_t n);
  void commit(std::size_t n);
  // The next complete frame, the terminal error, or nullopt when more bytes are needed. Frames of an
  // unknown type flagged IGNORABLE are skipped here and never returned.
  std::optional<std::variant<Frame, DecodeError>> next();
  // The same, with the payload left in the buffer (valid until the next feed, prepare or commit).
  std::optional<std::variant<FrameView, DecodeError>> nextView();

  bool failed() const { return failed_; }
  // True when no partial frame is buffered; at EOF a false here means the peer stopped mid-frame.
  bool atFrameBoundary() const { return end_ == begin_; }
  // Bytes held for an unfinished frame (tests prove oversized frames are never buffered).
  std::size_t bufferedBytes() const { return end_ - begin_; }
  void setLimits(FrameLimits limits) { limits_ = limits; }

 private:
  void reserveTail(std::size_t n);
  void dropSkipped(std::size_t from, std::size_t n);
  DecodeError fail(std::string message);

  FrameLimits limits_;
  std::unique_ptr<char[]> data_;  // [begin_, end_) holds unconsumed bytes; no zero-filling on growth
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool failed_ = false;
  std::size_t skipRemaining_ = 0;  // payload bytes of an ignorable unknown frame still to drop
};

}  // namespace tether::tunnel
