// SpdyFrames.cpp - frame encoding and the incremental frame reader.
#include "server/kube/spdy/SpdyFrames.hpp"

namespace tether::kube::spdy {

void appendU32(std::string& out, std::uint32_t value) {
  out.push_back(static_cast<char>(value >> 24));
  out.push_back(static_cast<char>(value >> 16));
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

std::uint32_t readU32(std::string_view bytes) {
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]));
  };
  return (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
}

namespace {

void appendFlagsAndLength(std::string& out, std::uint8_t flags, std::size_t length) {
  appendU32(out, (static_cast<std::uint32_t>(flags) << 24) | static_cast<std::uint32_t>(length));
}

}  // namespace

void appendControl(std::string& out, ControlType type, std::uint8_t flags, std::string_view payload) {
  const auto typeValue = static_cast<std::uint16_t>(type);
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xFF));
  out.push_back(static_cast<char>(typeValue >> 8));
  out.push_back(static_cast<char>(typeValue & 0xFF));
  appendFlagsAndLength(out, flags, payload.size());
  out.append(payload);
}

void appendData(std::string& out, std::uint32_t streamId, std::uint8_t flags, std::string_view data) {
  appendU32(out, streamId & 0x7FFFFFFFu);
  appendFlagsAndLength(out, flags, data.size());
  out.append(data);
}

void FrameReader::feed(std::string_view bytes) {
  if (error_) return;
  // Consumed bytes are dropped lazily: only when they are most of the buffer is the tail moved down.
  if (begin_ > 0 && begin_ >= buffer_.size() / 2) {
    buffer_.erase(0, begin_);
    begin_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<Frame> FrameReader::next() {
  if (error_) return std::nullopt;
  const std::string_view rest = std::string_view(buffer_).substr(begin_);
  if (rest.size() < kFrameHeaderSize) return std::nullopt;
  const std::uint32_t first = readU32(rest);
  const std::uint32_t second = readU32(rest.substr(4));
  const std::size_t length = second & 0xFFFFFF;
  Frame frame;
  frame.control = (first & 0x80000000u) != 0;
  frame.flags = static_cast<std::uint8_t>(second >> 24);
  if (frame.control) {
    const auto version = static_cast<std::uint16_t>((first >> 16) & 0x7FFF);
    if (version != kVersion) {
      error_ = "the server sent a SPDY/" + std::to_string(version) +
               " control frame; only SPDY/3.1 is spoken here";
      return std::nullopt;
    }
    frame.type = static_cast<std::uint16_t>(first & 0xFFFF);
  } else {
    frame.streamId = first & 0x7FFFFFFFu;
  }
  if (length > maxPayload_) {
    error_ = "the server sent a SPDY frame of " + std::to_string(length) + " bytes; the limit is " +
             std::to_string(maxPayload_);
    return std::nullopt;
  }
  if (rest.size() < kFrameHeaderSize + length) return std::nullopt;
  frame.payload = rest.substr(kFrameHeaderSize, length);
  begin_ += kFrameHeaderSize + length;
  return frame;
}

}  // namespace tether::kube::spdy
