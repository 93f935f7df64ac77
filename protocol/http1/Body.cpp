// Body.cpp - message framing decisions and the chunked-coding scanner.
#include "protocol/http1/Body.hpp"

#include <algorithm>

namespace tether::http1 {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Every Content-Length field and list element must be the same decimal number (RFC 9110 §8.6).
FramingResult contentLength(const Headers& headers) {
  std::optional<std::uint64_t> length;
  for (const auto& header : headers) {
    if (!equalsIgnoreCase(header.name, "Content-Length")) continue;
    std::string_view rest = header.value;
    do {
      const auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (item.empty() || item.size() > 18 ||
          !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return {std::nullopt, "Content-Length \"" + header.value + "\" is not a number"};
      }
      std::uint64_t value = 0;
      for (char c : item) value = value * 10 + static_cast<std::uint64_t>(c - '0');
      if (length && *length != value) return {std::nullopt, "conflicting Content-Length values"};
      length = value;
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    } while (!rest.empty());
  }
  if (!length) return {BodyFraming{}, ""};
  return {BodyFraming{BodyFraming::Kind::Length, *length}, ""};
}

}  // namespace

FramingResult requestFraming(const RequestHead& head) {
  const auto codings = tokens(head.headers, "Transfer-Encoding");
  const bool hasLength = find(head.headers, "Content-Length") != nullptr;
  if (find(head.headers, "Transfer-Encoding") != nullptr) {
    if (hasLength) return {std::nullopt, "both Transfer-Encoding and Content-Length"};
    if (head.versionMinor == 0) return {std::nullopt, "Transfer-Encoding in an HTTP/1.0 request"};
    if (codings.empty() || codings.back() != "chunked")
      return {std::nullopt, "a Transfer-Encoding that does not end in chunked"};
    return {BodyFraming{BodyFraming::Kind::Chunked, 0}, ""};
  }
  return contentLength(head.headers);
}

FramingResult responseFraming(const ResponseHead& head, std::string_view requestMethod) {
  if (requestMethod == "HEAD" || (head.status >= 100 && head.status < 200) || head.status == 204 ||
      head.status == 304) {
    return {BodyFraming{}, ""};
  }
  if (find(head.headers, "Transfer-Encoding") != nullptr) {
    const auto codings = tokens(head.headers, "Transfer-Encoding");
    if (!codings.empty() && codings.back() == "chunked")
      return {BodyFraming{BodyFraming::Kind::Chunked, 0}, ""};
    return {BodyFraming{BodyFraming::Kind::UntilClose, 0}, ""};
  }
  auto length = contentLength(head.headers);
  if (length.framing && find(head.headers, "Content-Length") == nullptr) {
    return {BodyFraming{BodyFraming::Kind::UntilClose, 0}, ""};
  }
  return length;
}

BodyScanner::BodyScanner(BodyFraming framing, BodyLimits limits) : state_(State::Done), limits_(limits) {
  switch (framing.kind) {
    case BodyFraming::Kind::None:
      state_ = State::Done;
      break;
    case BodyFraming::Kind::Length:
      remaining_ = framing.length;
      state_ = remaining_ == 0 ? State::Done : State::Data;
      break;
    case BodyFraming::Kind::Chunked:
      state_ = State::Size;
      break;
    case BodyFraming::Kind::UntilClose:
      state_ = State::UntilClose;
      break;
  }
  chunked_ = framing.kind == BodyFraming::Kind::Chunked;
}

void BodyScanner::fail(std::string why) {
  state_ = State::Failed;
  error_ = std::move(why);
}

std::size_t BodyScanner::scan(std::string_view bytes) {
  std::size_t used = 0;
  while (used < bytes.size()) {
    const char c = bytes[used];
    switch (state_) {
      case State::Done:
      case State::Failed:
        return used;
      case State::UntilClose:
        return bytes.size();
      case State::Data: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size() - used));
        used += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = chunked_ ? State::DataCr : State::Done;
        continue;
      }
      case State::Size: {
        const int digit = hexValue(c);
        if (digit >= 0) {
          if (++digits_ > 15) {
            fail("chunk size too large");
            return used;
          }
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
          lineBytes_ = digits_;
        } else if (digits_ > 0 && (c == ';' || c == ' ' || c == '\t')) {
          state_ = State::Extension;
        } else if (digits_ > 0 && c == '\r') {
          state_ = State::SizeLf;
        } else {
          fail("bad chunk size");
          return used;
        }
        break;
      }
      case State::Extension:
        if (c == '\r') {
          state_ = State::SizeLf;
        } else if (c == '\n' || c == '\0' || ++lineBytes_ > limits_.maxChunkLine) {
          fail(c == '\n' || c == '\0' ? "bad chunk extension" : "chunk line too long");
          return used;
        }
        break;
      case State::SizeLf:
        if (c != '\n') {
          fail("bad chunk size line ending");
          return used;
        }
        digits_ = 0;
        lineBytes_ = 0;
        state_ = remaining_ == 0 ? State::TrailerStart : State::Data;
        break;
      case State::DataCr:
        if (c != '\r') {
          fail("chunk data longer than its size");
          return used;
        }
        state_ = State::DataLf;
        break;
      case State::DataLf:
        if (c != '\n') {
          fail("chunk data longer than its size");
          return used;
        }
        state_ = State::Size;
        break;
      case State::TrailerStart:
        if (c == '\r') {
          state_ = State::FinalLf;
          break;
        }
        state_ = State::Trailer;
        [[fallthrough]];
      case State::Trailer:
        if (c == '\r') {
          state_ = State::TrailerLf;
        } else if (c == '\n' || c == '\0' || ++trailerBytes_ > limits_.maxTrailer) {
          fail(c == '\n' || c == '\0' ? "bad trailer field" : "trailer section too large");
          return used;
        }
        break;
      case State::TrailerLf:
        if (c != '\n') {
          fail("bad trailer line ending");
          return used;
        }
        state_ = State::TrailerStart;
        break;
      case State::FinalLf:
        if (c != '\n') {
          fail("bad end of chunked body");
          return used;
        }
        state_ = State::Done;
        return used + 1;
    }
    ++used;
  }
  return used;
}

}  // namespace tether::http1
