// Handshake.cpp - version and token checks of HELLO, and the client's view of WELCOME or GOAWAY.
#include "protocol/tunnel/Handshake.hpp"

namespace tether::tunnel {

namespace {

std::string versionText(std::uint16_t theirs, std::string_view who) {
  return "agent speaks tunnel protocol " + std::to_string(kProtocolVersion) + ", " + std::string(who) +
         " sent " + std::to_string(theirs);
}

}  // namespace

HelloVerdict checkHello(const Frame& first, std::string_view expectedToken) {
  HelloVerdict v;
  if (first.type != FrameType::Hello) {
    v.status = {Code::ProtocolError, "expected HELLO, got " + std::string(toString(first.type))};
    return v;
  }
  // The version is read from the frozen prefix first, so a newer client whose HELLO grew differently
  // still hears "version mismatch" instead of "malformed".
  auto version = versionOf(first.payload);
  if (!version) {
    v.status = {Code::ProtocolError, "HELLO without the tunnel magic"};
    return v;
  }
  if (*version != kProtocolVersion) {
    v.status = {Code::VersionMismatch, versionText(*version, "client")};
    return v;
  }
  auto hello = parseHello(first.payload);
  if (!hello) {
    v.status = {Code::ProtocolError, "malformed HELLO"};
    return v;
  }
  if (!constantTimeEqual(hello->token, expectedToken)) {
    v.status = {Code::BadToken, "wrong session token"};
    return v;
  }
  if (hello->maxFrame < 1024 || hello->streamWindow < 1024) {
    v.status = {Code::ProtocolError, "max_frame and stream_window must be at least 1024"};
    return v;
  }
  v.hello = std::move(*hello);
  return v;
}

WelcomeVerdict checkWelcome(const Frame& first) {
  WelcomeVerdict v;
  if (first.type == FrameType::Goaway) {
    v.status = parseStatus(first.payload).value_or(Status{Code::ProtocolError, "malformed GOAWAY"});
    return v;
  }
  if (first.type != FrameType::Welcome) {
    v.status = {Code::ProtocolError, "expected WELCOME, got " + std::string(toString(first.type))};
    return v;
  }
  auto version = versionOf(first.payload);
  if (version && *version != kProtocolVersion) {
    v.status = {Code::VersionMismatch, "client speaks tunnel protocol " + std::to_string(kProtocolVersion) +
                                           ", agent answered " + std::to_string(*version)};
    return v;
  }
  auto welcome = parseWelcome(first.payload);
  if (!welcome || welcome->maxFrame < 1024 || welcome->streamWindow < 1024) {
    v.status = {Code::ProtocolError, "malformed WELCOME"};
    return v;
  }
  v.welcome = std::move(*welcome);
  return v;
}

}  // namespace tether::tunnel
