// Body.hpp - where an HTTP/1.x message body ends (RFC 9112 §6-§7), sans-io. A proxy forwards body bytes as
// they arrive, unchanged, and only needs to know which of them still belong to this message so that it can
// find the next head: `BodyScanner` tells it, for a Content-Length, a chunked body (extensions and trailers
// included) or a body that runs to the end of the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/http1/Message.hpp"

namespace tether::http1 {

struct BodyFraming {
  enum class Kind { None, Length, Chunked, UntilClose };
  Kind kind = Kind::None;
  std::uint64_t length = 0;  // Kind::Length
};

struct FramingResult {
  std::optional<BodyFraming> framing;
  std::string error;  // why the message cannot be framed (a request gets 400, a response 502)
};

// A request's body (RFC 9112 §6.3): chunked when Transfer-Encoding ends in chunked, else Content-Length,
// else none. Refused: both Transfer-Encoding and Content-Length (the classic smuggling vector), a
// Transfer-Encoding that does not end in chunked, a Content-Length that is not a number or disagrees with
// itself.
FramingResult requestFraming(const RequestHead& head);
// A response's body, given the method of its request: none for HEAD, 1xx, 204 and 304; chunked;
// Content-Length; otherwise it runs until the server closes.
FramingResult responseFraming(const ResponseHead& head, std::string_view requestMethod);

struct BodyLimits {
  std::size_t maxChunkLine = 4096;       // a chunk-size line with its extensions
  std::size_t maxTrailer = 64u * 1024u;  // the trailer section of a chunked body
};

class BodyScanner {
 public:
  explicit BodyScanner(BodyFraming framing, BodyLimits limits = {});

  // How many of `bytes` belong to the body; they are passed on unchanged. Stops at the end of the body
  // (done()) or at the first malformed byte (failed()).
  std::size_t scan(std::string_view bytes);
  bool done() const { return state_ == State::Done; }
  bool failed() const { return state_ == State::Failed; }
  const std::string& error() const { return error_; }
  // Body bytes still expected (Length), for a reader that wants to size its reads.
  std::uint64_t remaining() const { return remaining_; }

 private:
  enum class State {
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    FinalLf,
    UntilClose,
    Done,
    Failed
  };

  void fail(std::string why);

  State state_;
  BodyLimits limits_;
  bool chunked_ = false;
  std::uint64_t remaining_ = 0;
  std::size_t digits_ = 0;
  std::size_t lineBytes_ = 0;
  std::size_t trailerBytes_ = 0;
  std::string error_;
};

}  // namespace tether::http1
