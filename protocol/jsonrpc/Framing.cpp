// Framing.cpp - Content-Length and delimited decoders.
#include "protocol/jsonrpc/Framing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tether::jsonrpc {

namespace {

constexpr std::string_view kContentLength = "content-length";

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// Finds "Content-Length" (any case) at or after `from`; npos if none. Frames follow each other without a
// newline, so the next header may start anywhere, right after the previous body's last byte.
std::size_t findContentLength(std::string_view text, std::size_t from) {
  for (std::size_t at = from; at + kContentLength.size() <= text.size(); ++at) {
    if (equalsIgnoreCase(text.substr(at, kContentLength.size()), kContentLength)) {
      return at;
    }
  }
  return std::string_view::npos;
}

}  // namespace

ContentLengthDecoder::ContentLengthDecoder(FrameLimits limits) : limits_(limits) {}

void ContentLengthDecoder::feed(std::string_view bytes) {
  // While skipping an oversized body, bytes are counted down and dropped without being stored.
  if (state_ == State::Skipping) {
    const auto dropped = std::min(skipRemaining_, bytes.size());
    skipRemaining_ -= dropped;
    bytes.remove_prefix(dropped);
    if (skipRemaining_ == 0) state_ = State::Headers;
    if (bytes.empty()) return;
  }
  buffer_.append(bytes);
}

bool ContentLengthDecoder::atFrameBoundary() const {
  return state_ == State::Headers && bufferedBytes() == 0;
}

void ContentLengthDecoder::compact() {
  if (offset_ > 0 && offset_ * 2 >= buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
}

std::optional<FrameEvent> ContentLengthDecoder::fail(std::string message, std::size_t consumed) {
  offset_ += consumed;
  resyncFrom_ = consumed == 0 ? 1 : 0;
  state_ = State::Resync;
  return FrameEvent{FrameEvent::Kind::Error, std::move(message)};
}

std::optional<FrameEvent> ContentLengthDecoder::next() {
  for (;;) {
    switch (state_) {
      case State::Skipping:
        return std::nullopt;
      case State::Resync: {
        // A rejected header block has been consumed already; an unterminated one starts at offset_,
        // so skip its first byte to avoid finding it again.
        const std::string_view pending(buffer_.data() + offset_, bufferedBytes());
        const auto found = findContentLength(pending, resyncFrom_);
        resyncFrom_ = 0;
        if (found == std::string_view::npos) {
          // Keep a tail that might be the start of a "Content-Length" split across reads.
          const auto keep = std::min(pending.size(), kContentLength.size());
          offset_ += pending.size() - keep;
          compact();
          return std::nullopt;
        }
        offset_ += found;
        state_ = State::Headers;
        continue;
      }
      case State::Headers: {
        auto event = parseHeaders();
        if (event || state_ != State::Body) {
          compact();
          if (event) return event;
          if (state_ == State::Headers) return std::nullopt;
          continue;  // Skipping or Resync was entered without an event
        }
        continue;
      }
      case State::Body: {
        if (bufferedBytes() < bodyLength_) return std::nullopt;
        FrameEvent frame{FrameEvent::Kind::Frame, buffer_.substr(offset_, bodyLength_)};
        offset_ += bodyLength_;
        state_ = State::Headers;
        compact();
        return frame;
      }
    }
  }
}

std::optional<FrameEvent> ContentLengthDecoder::parseHeaders() {
  const std::string_view pending(buffer_.data() + offset_, bufferedBytes());
  // Headers end at an empty line. CRLF is the standard; a bare LF is tolerated for hand-typed input.
  std::size_t end = std::string_view::npos;
  std::size_t terminatorLength = 0;
  for (std::size_t at = 0; at < pending.size(); ++at) {
    if (pending[at] != '\n') continue;
    if (at + 1 < pending.size() && pending[at + 1] == '\n') {
      end = at;
      terminatorLength = 2;
      break;
    }
    if (at + 2 < pending.size() && pending[at + 1] == '\r' && pending[at + 2] == '\n') {
      end = at;
      terminatorLength = 3;
      break;
    }
  }
  if (end == std::string_view::npos) {
    if (pending.size() > limits_.maxHeaderBytes) {
      return fail("header block exceeds " + std::to_string(limits_.maxHeaderBytes) +
                      " bytes without an empty line; skipping to the next Content-Length",
                  0);
    }
    return std::nullopt;
  }

  const std::size_t blockLength = end + terminatorLength;
  std::optional<std::size_t> length;
  std::string_view headers = pending.substr(0, end);
  while (!headers.empty()) {
    const auto newline = headers.find('\n');
    const std::string_view line = trim(headers.substr(0, newline));
    headers = newline == std::string_view::npos ? std::string_view{} : headers.substr(newline + 1);
    if (line.empty()) continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      return fail("malformed header line (no ':'): \"" + std::string(line.substr(0, 80)) + "\"", blockLength);
    }
    const auto name = trim(line.substr(0, colon));
    const auto value = trim(line.substr(colon + 1));
    if (!equalsIgnoreCase(name, kContentLength)) continue;  // Content-Type and others are tolerated
    if (length) return fail("duplicate Content-Length header", blockLength);
    std::size_t parsed = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size()) {
      return fail(
          "Content-Length is not a non-negative integer: \"" + std::string(value.substr(0, 40)) + "\"",
          blockLength);
    }
    length = parsed;
  }
  if (!length) return fail("header block has no Content-Length", blockLength);
  offset_ += blockLength;
  if (*length > limits_.maxContentLength) {
    // Refuse without allocating: drop what has arrived of the body and count down the rest.
    const auto already = std::min(*length, bufferedBytes());
    offset_ += already;
    skipRemaining_ = *length - already;
    state_ = skipRemaining_ == 0 ? State::Headers : State::Skipping;
    return FrameEvent{FrameEvent::Kind::Error,
                      "frame of " + std::to_string(*length) + " bytes exceeds the limit of " +
                          std::to_string(limits_.maxContentLength) + " bytes; skipped"};
  }
  bodyLength_ = *length;
  state_ = State::Body;
  return std::nullopt;
}

DelimitedDecoder::DelimitedDecoder(FrameLimits limits) : limits_(limits) {}

void DelimitedDecoder::feed(std::string_view bytes) {
  pendingLine_.append(bytes);
}

std::optional<FrameEvent> DelimitedDecoder::takeMessage() {
  const bool overflowed = overflowed_;
  overflowed_ = false;
  std::string body = std::move(message_);
  message_.clear();
  if (overflowed) {
    return FrameEvent{FrameEvent::Kind::Error, "delimited message exceeds the limit of " +
                                                   std::to_string(limits_.maxContentLength) +
                                                   " bytes; skipped"};
  }
  if (trim(body).find_first_not_of(" \t\r\n") == std::string_view::npos) return std::nullopt;
  return FrameEvent{FrameEvent::Kind::Frame, std::move(body)};
}

std::optional<FrameEvent> DelimitedDecoder::next() {
  for (;;) {
    const auto newline = pendingLine_.find('\n');
    if (newline == std::string::npos) return std::nullopt;
    std::string line = pendingLine_.substr(0, newline + 1);
    pendingLine_.erase(0, newline + 1);
    const auto content = trim(std::string_view(line).substr(0, line.size() - 1));
    if (content == "---") {
      if (auto message = takeMessage()) return message;
      continue;
    }
    if (!content.empty() && content.front() == '#') continue;
    if (message_.size() + line.size() > limits_.maxContentLength) {
      overflowed_ = true;
      message_.clear();
      continue;
    }
    if (!overflowed_) message_ += line;
  }
}

std::optional<FrameEvent> DelimitedDecoder::finish() {
  if (!pendingLine_.empty()) {
    pendingLine_ += '\n';
    if (auto event = next()) return event;
  }
  return takeMessage();
}

bool DelimitedDecoder::atFrameBoundary() const {
  return pendingLine_.empty() && message_.empty();
}

std::string encodeFrame(std::string_view body) {
  std::string frame = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  frame.append(body);
  return frame;
}

}  // namespace tether::jsonrpc
