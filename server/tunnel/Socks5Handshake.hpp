// Socks5Handshake.hpp - the server side of a SOCKS5 handshake (RFC 1928) with username/password
// authentication (RFC 1929), sans-io: fed whatever bytes a client sent, it says what to answer and whether
// the client is now waiting for a CONNECT to `host():port()`. Only CONNECT is offered; BIND and UDP
// ASSOCIATE are refused with "command not supported".
//
// A first byte of 4 is a SOCKS4 or SOCKS4a request instead (one message: CONNECT, port, IPv4 address,
// a NUL-terminated user id, and for 4a, address 0.0.0.x, a NUL-terminated host name resolved by the agent).
// SOCKS4 has no password, so when credentials are required the user id must be "user:password" whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/tunnel/ProxyAuth.hpp"

namespace tether::tunnelclient {

class Socks5Handshake {
 public:
  explicit Socks5Handshake(const ProxyAuth& auth) : auth_(auth) {}

  enum class Next {
    NeedMore,  // send `reply` (if any) and read more
    Connect,   // send `reply` (empty), open host():port(), then answer with connectReply()
    Close,     // send `reply` (if any) and close; `refusal` says why
  };
  struct Step {
    Next next = Next::NeedMore;
    std::string reply;
    std::string refusal;
    bool authFailed = false;  // the refusal is about credentials (logged as a refused client)
  };

  // Appends `bytes` to what the client sent and advances as far as they allow. Once a step said Close, every
  // later one does too.
  Step feed(std::string_view bytes);

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }
  // Bytes the client sent after its request, ahead of the reply (they belong to the stream).
  std::string_view early() const { return std::string_view(buffer_).substr(used_); }

  // The reply to a CONNECT (`code` 0 = succeeded), with an unspecified bound address.
  static std::string connectReply(std::uint8_t code);
  // The reply to this client's CONNECT in its own version: for SOCKS4, granted (0x5A) when `code` is 0,
  // else rejected (0x5B).
  std::string answer(std::uint8_t code) const;
  int version() const { return version_; }

 private:
  enum class State { Greeting, Credentials, Request, Done, Closed };

  Step greeting();
  Step credentials();
  Step request();
  Step socks4();
  std::size_t available() const { return buffer_.size() - used_; }
  std::uint8_t at(std::size_t offset) const { return static_cast<std::uint8_t>(buffer_[used_ + offset]); }

  const ProxyAuth& auth_;
  State state_ = State::Greeting;
  std::string buffer_;
  std::size_t used_ = 0;
  std::string host_;
  std::uint16_t port_ = 0;
  int version_ = 5;
};

}  // namespace tether::tunnelclient
