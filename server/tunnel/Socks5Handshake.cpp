// Socks5Handshake.cpp - greeting, method choice, RFC 1929 credentials, the CONNECT request.
#include "server/tunnel/Socks5Handshake.hpp"

#include <array>
#include <cstdio>

namespace tether::tunnelclient {

namespace {

constexpr std::uint8_t kVersion = 5;
constexpr std::uint8_t kNoAuthentication = 0x00;
constexpr std::uint8_t kUserPassword = 0x02;
constexpr std::uint8_t kNoAcceptableMethod = 0xFF;
constexpr std::uint8_t kUserPasswordVersion = 0x01;
constexpr std::size_t kMaxRequest = 4 + 1 + 255 + 2;  // the longest CONNECT request: a 255-byte name

std::string bytes(std::initializer_list<std::uint8_t> values) {
  std::string out;
  for (auto value : values) out += static_cast<char>(value);
  return out;
}

std::string ipv4(const std::uint8_t* a) {
  char text[16];
  std::snprintf(text, sizeof text, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
  return text;
}

std::string ipv6(const std::uint8_t* a) {
  // Full form without zero compression: the agent's resolver reads it all the same.
  std::string text;
  char group[8];
  for (int i = 0; i < 16; i += 2) {
    std::snprintf(group, sizeof group, "%x", (a[i] << 8) | a[i + 1]);
    if (!text.empty()) text += ':';
    text += group;
  }
  return text;
}

}  // namespace

std::string Socks5Handshake::connectReply(std::uint8_t code) {
  return bytes({kVersion, code, 0, 1, 0, 0, 0, 0, 0, 0});
}

std::string Socks5Handshake::answer(std::uint8_t code) const {
  if (version_ == 4)
    return bytes({0x00, static_cast<std::uint8_t>(code == 0 ? 0x5A : 0x5B), 0, 0, 0, 0, 0, 0});
  return connectReply(code);
}

Socks5Handshake::Step Socks5Handshake::feed(std::string_view more) {
  buffer_.append(more);
  Step step;
  std::string replies;
  for (;;) {
    switch (state_) {
      case State::Greeting:
        step = greeting();
        break;
      case State::Credentials:
        step = credentials();
        break;
      case State::Request:
        step = request();
        break;
      case State::Done:
        step = Step{Next::Connect, {}, {}, false};
        break;
      case State::Closed:
        step = Step{Next::Close, {}, "the handshake was already refused", false};
        break;
    }
    if (step.next == Next::Close) state_ = State::Closed;
    replies += step.reply;
    // A client may send its greeting, credentials and request in one write: keep going while each part
    // is complete and nothing asked to close.
    if (step.next != Next::NeedMore || step.reply.empty()) break;
  }
  step.reply = std::move(replies);
  return step;
}

Socks5Handshake::Step Socks5Handshake::greeting() {
  if (available() >= 1 && at(0) == 4) {
    version_ = 4;
    return socks4();
  }
  if (available() < 2) return {};
  if (at(0) != kVersion)
    return {Next::Close, {}, "not a SOCKS5 client (version " + std::to_string(at(0)) + ")", false};
  const std::size_t count = at(1);
  if (available() < 2 + count) return {};
  bool offersNone = false, offersPassword = false;
  for (std::size_t i = 0; i < count; ++i) {
    offersNone = offersNone || at(2 + i) == kNoAuthentication;
    offersPassword = offersPassword || at(2 + i) == kUserPassword;
  }
  used_ += 2 + count;
  if (auth_.required()) {
    if (!offersPassword) {
      return {Next::Close, bytes({kVersion, kNoAcceptableMethod}),
              "the client offered no username/password authentication (the proxy URL carries no credentials)",
              true};
    }
    state_ = State::Credentials;
    return {Next::NeedMore, bytes({kVersion, kUserPassword}), {}, false};
  }
  if (!offersNone) {
    return {Next::Close, bytes({kVersion, kNoAcceptableMethod}),
            "the client offered no method this proxy takes", false};
  }
  state_ = State::Request;
  return {Next::NeedMore, bytes({kVersion, kNoAuthentication}), {}, false};
}

Socks5Handshake::Step Socks5Handshake::credentials() {
  // VER=1, ULEN, UNAME, PLEN, PASSWD (RFC 1929 §2).
  if (available() < 2) return {};
  if (at(0) != kUserPasswordVersion) {
    return {Next::Close, bytes({kUserPasswordVersion, 0x01}), "bad username/password sub-negotiation version",
            true};
  }
  const std::size_t userLength = at(1);
  if (available() < 2 + userLength + 1) return {};
  const std::size_t passwordLength = at(2 + userLength);
  if (available() < 3 + userLength + passwordLength) return {};
  const std::string_view user = std::string_view(buffer_).substr(used_ + 2, userLength);
  const std::string_view password = std::string_view(buffer_).substr(used_ + 3 + userLength, passwordLength);
  const bool accepted = auth_.acceptsUserPassword(user, password);
  used_ += 3 + userLength + passwordLength;
  if (!accepted)
    return {Next::Close, bytes({kUserPasswordVersion, 0x01}), "wrong username or password", true};
  state_ = State::Request;
  return {Next::NeedMore, bytes({kUserPasswordVersion, 0x00}), {}, false};
}

Socks5Handshake::Step Socks5Handshake::request() {
  // VER CMD RSV ATYP DST.ADDR DST.PORT (RFC 1928 §4).
  if (available() < 5) return {};
  if (at(0) != kVersion) return {Next::Close, connectReply(0x01), "bad request version", false};
  std::size_t addressLength = 0;
  switch (at(3)) {
    case 0x01:
      addressLength = 4;
      break;
    case 0x04:
      addressLength = 16;
      break;
    case 0x03:
      addressLength = 1 + static_cast<std::size_t>(at(4));
      break;
    default:
      return {Next::Close, connectReply(0x08), "address type " + std::to_string(at(3)) + " not supported",
              false};
  }
  const std::size_t total = 4 + addressLength + 2;
  if (total > kMaxRequest) return {Next::Close, connectReply(0x01), "request too long", false};
  if (available() < total) return {};
  const auto* raw = reinterpret_cast<const std::uint8_t*>(buffer_.data() + used_);
  if (at(3) == 0x01) {
    host_ = ipv4(raw + 4);
  } else if (at(3) == 0x04) {
    host_ = ipv6(raw + 4);
  } else {
    host_ = std::string(buffer_.data() + used_ + 5, at(4));
    if (host_.empty()) return {Next::Close, connectReply(0x04), "empty host name", false};
  }
  port_ = static_cast<std::uint16_t>((at(4 + addressLength) << 8) | at(5 + addressLength));
  const std::uint8_t command = at(1);
  used_ += total;
  if (command != 0x01) {
    return {Next::Close, connectReply(0x07),
            "only CONNECT is supported (BIND and UDP ASSOCIATE are not tunnelled)", false};
  }
  state_ = State::Done;
  return {Next::Connect, {}, {}, false};
}

Socks5Handshake::Step Socks5Handshake::socks4() {
  // VN=4 CD DSTPORT(2) DSTIP(4) USERID NUL [HOST NUL] (SOCKS4 and the 4A extension).
  constexpr std::size_t kMaxField = 255;
  const auto rejected = bytes({0x00, 0x5B, 0, 0, 0, 0, 0, 0});
  if (available() < 9) return {};
  const std::string_view rest = std::string_view(buffer_).substr(used_ + 8);
  const auto userEnd = rest.find('\0');
  if (userEnd == std::string_view::npos) {
    if (rest.size() > kMaxField) return {Next::Close, rejected, "SOCKS4 user id too long", false};
    return {};
  }
  const std::string_view user = rest.substr(0, userEnd);
  const auto* raw = reinterpret_cast<const std::uint8_t*>(buffer_.data() + used_);
  const bool named = raw[4] == 0 && raw[5] == 0 && raw[6] == 0 && raw[7] != 0;  // 0.0.0.x: SOCKS4a
  std::size_t total = 8 + userEnd + 1;
  if (named) {
    const std::string_view afterUser = rest.substr(userEnd + 1);
    const auto hostEnd = afterUser.find('\0');
    if (hostEnd == std::string_view::npos) {
      if (afterUser.size() > kMaxField) return {Next::Close, rejected, "SOCKS4a host name too long", false};
      return {};
    }
    host_ = std::string(afterUser.substr(0, hostEnd));
    total += hostEnd + 1;
    if (host_.empty()) return {Next::Close, rejected, "empty host name", false};
  } else {
    host_ = ipv4(raw + 4);
  }
  port_ = static_cast<std::uint16_t>((raw[2] << 8) | raw[3]);
  const std::uint8_t command = raw[1];
  if (auth_.required()) {
    const auto colon = user.find(':');
    const bool accepted = colon != std::string_view::npos &&
                          auth_.acceptsUserPassword(user.substr(0, colon), user.substr(colon + 1));
    if (!accepted) {
      used_ += total;
      return {Next::Close, rejected,
              "SOCKS4 user id is not the session's user:password (SOCKS4 has no password field)", true};
    }
  }
  used_ += total;
  if (command != 0x01)
    return {Next::Close, rejected, "only CONNECT is supported (BIND is not tunnelled)", false};
  state_ = State::Done;
  return {Next::Connect, {}, {}, false};
}

}  // namespace tether::tunnelclient
