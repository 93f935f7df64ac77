// Codec.cpp - frame encoding and the bounded, incremental decoder.
#include "protocol/tunnel/Codec.hpp"

#include <algorithm>

#include "protocol/tunnel/Wire.hpp"

namespace tether::tunnel {

void encodeFrame(std::string& out, FrameType type, std::uint32_t id, std::string_view payload,
                 std::uint8_t flags) {
  WireWriter writer(out);
  writer.u8(static_cast<std::uint8_t>(type));
  writer.u8(flags);
  writer.u32(id);
  writer.u32(static_cast<std::uint32_t>(payload.size()));
  out.append(payload);
}

void FrameDecoder::feed(std::string_view bytes) {
  if (failed_) return;
  // Bytes of a skipped frame are dropped as they arrive, so even a huge ignorable frame is never held.
  if (skipRemaining_ > 0) {
    const std::size_t drop = std::min(skipRemaining_, bytes.size());
    skipRemaining_ -= drop;
    bytes.remove_prefix(drop);
  }
  compact();
  buffer_.append(bytes);
}

void FrameDecoder::compact() {
  // Moving the tail down only when the consumed prefix dominates keeps feeding amortised O(n).
  if (offset_ > 0 && (offset_ == buffer_.size() || offset_ >= buffer_.size() / 2)) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
}

std::optional<std::variant<Frame, DecodeError>> FrameDecoder::next() {
  while (!failed_ && skipRemaining_ == 0) {
    const std::string_view avail = std::string_view(buffer_).substr(offset_);
    if (avail.size() < kHeaderSize) return std::nullopt;
    WireReader header(avail.substr(0, kHeaderSize));
    const std::uint8_t type = header.u8().value_or(0);
    const std::uint8_t flags = header.u8().value_or(0);
    const std::uint32_t id = header.u32().value_or(0);
    const std::uint32_t length = header.u32().value_or(0);
    if (length > limits_.maxFrame) {
      failed_ = true;
      buffer_.clear();
      offset_ = 0;
      return DecodeError{"frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                         std::to_string(limits_.maxFrame)};
    }
    if (!isKnownType(type)) {
      if ((flags & kFlagIgnorable) == 0) {
        failed_ = true;
        buffer_.clear();
        offset_ = 0;
        return DecodeError{"unknown frame type " + std::to_string(type)};
      }
      const std::size_t here = std::min<std::size_t>(length, avail.size() - kHeaderSize);
      offset_ += kHeaderSize + here;
      skipRemaining_ = length - here;
      compact();
      continue;
    }
    if (avail.size() < kHeaderSize + length) return std::nullopt;
    Frame frame;
    frame.type = static_cast<FrameType>(type);
    frame.flags = flags;
    frame.id = id;
    frame.payload.assign(avail.substr(kHeaderSize, length));
    offset_ += kHeaderSize + length;
    return frame;
  }
  return std::nullopt;
}

std::string_view toString(FrameType type) {
  switch (type) {
    case FrameType::Hello: return "HELLO";
    case FrameType::Welcome: return "WELCOME";
    case FrameType::Open: return "OPEN";
    case FrameType::Accept: return "ACCEPT";
    case FrameType::Data: return "DATA";
    case FrameType::Fin: return "FIN";
    case FrameType::Reset: return "RESET";
    case FrameType::Window: return "WINDOW";
    case FrameType::Ping: return "PING";
    case FrameType::Pong: return "PONG";
    case FrameType::DnsQuery: return "DNS_QUERY";
    case FrameType::DnsReply: return "DNS_REPLY";
    case FrameType::Listen: return "LISTEN";
    case FrameType::ListenResult: return "LISTEN_RESULT";
    case FrameType::Unlisten: return "UNLISTEN";
    case FrameType::Goaway: return "GOAWAY";
  }
  return "UNKNOWN";
}

Code codeFromWire(std::uint32_t value) {
  return value <= static_cast<std::uint32_t>(Code::NotFound) ? static_cast<Code>(value) : Code::Refused;
}

std::string_view toString(Code code) {
  switch (code) {
    case Code::Ok: return "ok";
    case Code::Refused: return "refused";
    case Code::DnsFailure: return "dns failure";
    case Code::Unreachable: return "unreachable";
    case Code::ProtocolError: return "protocol error";
    case Code::FlowControl: return "flow control violation";
    case Code::ShuttingDown: return "shutting down";
    case Code::Busy: return "busy";
    case Code::Cancelled: return "cancelled";
    case Code::TransportLost: return "transport lost";
    case Code::Timeout: return "timeout";
    case Code::VersionMismatch: return "version mismatch";
    case Code::BadToken: return "bad token";
    case Code::BindFailed: return "bind failed";
    case Code::NotFound: return "not found";
  }
  return "unknown";
}

}  // namespace tether::tunnel
