// Codec.cpp - frame encoding and the bounded, incremental decoder.
#include "protocol/tunnel/Codec.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/tunnel/Wire.hpp"

namespace tether::tunnel {

namespace {

void putU32(char* at, std::uint32_t v) {
  at[0] = static_cast<char>(v >> 24);
  at[1] = static_cast<char>(v >> 16);
  at[2] = static_cast<char>(v >> 8);
  at[3] = static_cast<char>(v);
}

}  // namespace

void encodeHeader(char* at, FrameType type, std::uint32_t id, std::uint32_t length, std::uint8_t flags) {
  at[0] = static_cast<char>(type);
  at[1] = static_cast<char>(flags);
  putU32(at + 2, id);
  putU32(at + 6, length);
}

void encodeFrame(std::string& out, FrameType type, std::uint32_t id, std::string_view payload,
                 std::uint8_t flags) {
  char header[kHeaderSize];
  encodeHeader(header, type, id, static_cast<std::uint32_t>(payload.size()), flags);
  out.append(header, kHeaderSize);
  out.append(payload);
}

void encodeFrame(ByteBuffer& out, FrameType type, std::uint32_t id, std::string_view payload,
                 std::uint8_t flags) {
  char* at = out.extend(kHeaderSize + payload.size());
  encodeHeader(at, type, id, static_cast<std::uint32_t>(payload.size()), flags);
  if (!payload.empty()) std::memcpy(at + kHeaderSize, payload.data(), payload.size());
}

void FrameDecoder::reserveTail(std::size_t n) {
  if (capacity_ - end_ >= n) return;
  const std::size_t live = end_ - begin_;
  if (capacity_ - live >= n) {
    // Moving the unconsumed tail down is cheap: it is at most one partial frame.
    std::memmove(data_.get(), data_.get() + begin_, live);
  } else {
    const std::size_t grown = std::max(capacity_ * 2, live + n);
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    if (live > 0) std::memcpy(bigger.get(), data_.get() + begin_, live);
    data_ = std::move(bigger);
    capacity_ = grown;
  }
  begin_ = 0;
  end_ = live;
}

void FrameDecoder::dropSkipped(std::size_t from, std::size_t n) {
  // Bytes of a skipped frame are dropped as they arrive, so even a huge ignorable frame is never held.
  // A skip is only pending when everything before it was consumed, so the new bytes start at begin_.
  const std::size_t drop = std::min(skipRemaining_, n);
  skipRemaining_ -= drop;
  if (from == begin_) begin_ += drop;
}

void FrameDecoder::feed(std::string_view bytes) {
  if (failed_) return;
  if (skipRemaining_ > 0) {
    const std::size_t drop = std::min(skipRemaining_, bytes.size());
    skipRemaining_ -= drop;
    bytes.remove_prefix(drop);
  }
  if (bytes.empty()) return;
  reserveTail(bytes.size());
  std::memcpy(data_.get() + end_, bytes.data(), bytes.size());
  end_ += bytes.size();
}

char* FrameDecoder::prepare(std::size_t n) {
  reserveTail(n);
  return data_.get() + end_;
}

void FrameDecoder::commit(std::size_t n) {
  if (failed_) return;
  const std::size_t from = end_;
  end_ += n;
  if (skipRemaining_ > 0) dropSkipped(from, n);
}

DecodeError FrameDecoder::fail(std::string message) {
  failed_ = true;
  begin_ = end_ = 0;
  return DecodeError{std::move(message)};
}

std::optional<std::variant<FrameView, DecodeError>> FrameDecoder::nextView() {
  while (!failed_ && skipRemaining_ == 0) {
    const std::size_t avail = end_ - begin_;
    if (avail < kHeaderSize) return std::nullopt;
    WireReader header(std::string_view(data_.get() + begin_, kHeaderSize));
    const std::uint8_t type = header.u8().value_or(0);
    const std::uint8_t flags = header.u8().value_or(0);
    const std::uint32_t id = header.u32().value_or(0);
    const std::uint32_t length = header.u32().value_or(0);
    if (length > limits_.maxFrame) {
      return fail("frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                  std::to_string(limits_.maxFrame));
    }
    if (!isKnownType(type)) {
      if ((flags & kFlagIgnorable) == 0) return fail("unknown frame type " + std::to_string(type));
      const std::size_t here = std::min<std::size_t>(length, avail - kHeaderSize);
      begin_ += kHeaderSize + here;
      skipRemaining_ = length - here;
      continue;
    }
    if (avail < kHeaderSize + length) return std::nullopt;
    FrameView frame{static_cast<FrameType>(type), flags, id,
                    std::string_view(data_.get() + begin_ + kHeaderSize, length)};
    begin_ += kHeaderSize + length;
    if (begin_ == end_) begin_ = end_ = 0;  // the view stays valid: the bytes are not overwritten until fed
    return frame;
  }
  return std::nullopt;
}

std::optional<std::variant<Frame, DecodeError>> FrameDecoder::next() {
  auto r = nextView();
  if (!r) return std::nullopt;
  if (auto* error = std::get_if<DecodeError>(&*r)) return std::move(*error);
  const auto& v = std::get<FrameView>(*r);
  return Frame{v.type, v.flags, v.id, std::string(v.payload)};
}

std::string_view toString(FrameType type) {
  switch (type) {
    case FrameType::Hello:
      return "HELLO";
    case FrameType::Welcome:
      return "WELCOME";
    case FrameType::Open:
      return "OPEN";
    case FrameType::Accept:
      return "ACCEPT";
    case FrameType::Data:
      return "DATA";
    case FrameType::Fin:
      return "FIN";
    case FrameType::Reset:
      return "RESET";
    case FrameType::Window:
      return "WINDOW";
    case FrameType::Ping:
      return "PING";
    case FrameType::Pong:
      return "PONG";
    case FrameType::DnsQuery:
      return "DNS_QUERY";
    case FrameType::DnsReply:
      return "DNS_REPLY";
    case FrameType::Listen:
      return "LISTEN";
    case FrameType::ListenResult:
      return "LISTEN_RESULT";
    case FrameType::Unlisten:
      return "UNLISTEN";
    case FrameType::Goaway:
      return "GOAWAY";
    case FrameType::Auth:
      return "AUTH";
  }
  return "UNKNOWN";
}

Code codeFromWire(std::uint32_t value) {
  return value <= static_cast<std::uint32_t>(Code::WrongPeer) ? static_cast<Code>(value) : Code::Refused;
}

std::string_view toString(Code code) {
  switch (code) {
    case Code::Ok:
      return "ok";
    case Code::Refused:
      return "refused";
    case Code::DnsFailure:
      return "dns failure";
    case Code::Unreachable:
      return "unreachable";
    case Code::ProtocolError:
      return "protocol error";
    case Code::FlowControl:
      return "flow control violation";
    case Code::ShuttingDown:
      return "shutting down";
    case Code::Busy:
      return "busy";
    case Code::Cancelled:
      return "cancelled";
    case Code::TransportLost:
      return "transport lost";
    case Code::Timeout:
      return "timeout";
    case Code::VersionMismatch:
      return "version mismatch";
    case Code::BadToken:
      return "bad token";
    case Code::BindFailed:
      return "bind failed";
    case Code::NotFound:
      return "not found";
    case Code::WrongPeer:
      return "wrong peer";
  }
  return "unknown";
}

}  // namespace tether::tunnel
