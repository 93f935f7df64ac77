// Framing.hpp - the LSP base-protocol framing (`Content-Length: N\r\n\r\n<body>`) as a sans-io
// decoder and encoder, plus the delimited style used by transcript tests.
//
// The decoders own no I/O: a transport feeds whatever bytes a read returned (partial frames,
// several frames, single bytes) and pops events. A bad header block is reported as an error event
// and the decoder resynchronises on the next `Content-Length` line, so one corrupt frame does not
// end the session. A frame larger than the cap is refused before a byte of it is buffered: the
// decoder counts its body down as it streams past and reports it once.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tether::jsonrpc {

struct FrameLimits {
  std::size_t maxContentLength = 64u * 1024u * 1024u;  // 64 MiB, the cap issue #2 names
  std::size_t maxHeaderBytes = 8u * 1024u;             // no real client sends more than a few lines
};

struct FrameEvent {
  enum class Kind { Frame, Error };
  Kind kind;
  std::string text;  // the body for a Frame, a human-readable description for an Error

  bool isFrame() const { return kind == Kind::Frame; }
};

class ContentLengthDecoder {
 public:
  explicit ContentLengthDecoder(FrameLimits limits = {});

  void feed(std::string_view bytes);
  // The next complete frame or error, or nullopt when more bytes are needed.
  std::optional<FrameEvent> next();
  // True when no partial frame is buffered; at EOF a false here means the peer stopped mid-frame.
  bool atFrameBoundary() const;
  // Bytes held for an unfinished frame (tests use it to prove oversized frames are not buffered).
  std::size_t bufferedBytes() const { return buffer_.size() - offset_; }

 private:
  enum class State { Headers, Body, Skipping, Resync };

  std::optional<FrameEvent> parseHeaders();
  // Reports an error, consumes `consumed` bytes and searches for the next header from there.
  std::optional<FrameEvent> fail(std::string message, std::size_t consumed);
  void compact();

  FrameLimits limits_;
  State state_ = State::Headers;
  std::string buffer_;
  std::size_t offset_ = 0;         // start of unconsumed bytes in buffer_
  std::size_t bodyLength_ = 0;     // in State::Body
  std::size_t skipRemaining_ = 0;  // in State::Skipping
  std::size_t resyncFrom_ = 0;     // in State::Resync: where the search starts
};

// Messages separated by a line `---`; lines starting with `#` are comments (clangd's lit style).
// Trailing text without a separator is a message too, delivered by finish() at EOF.
class DelimitedDecoder {
 public:
  explicit DelimitedDecoder(FrameLimits limits = {});
  void feed(std::string_view bytes);
  std::optional<FrameEvent> next();
  std::optional<FrameEvent> finish();
  bool atFrameBoundary() const;

 private:
  std::optional<FrameEvent> takeMessage();

  FrameLimits limits_;
  std::string pendingLine_;
  std::string message_;
  bool overflowed_ = false;
  std::optional<FrameEvent> ready_;
};

std::string encodeFrame(std::string_view body);

}  // namespace tether::jsonrpc
