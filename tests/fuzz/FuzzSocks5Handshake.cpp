// FuzzSocks5Handshake.cpp - libFuzzer target for the SOCKS5 handshake (RFC 1928 and RFC 1929) the local
// proxy runs with any local client: arbitrary bytes, fed in pieces whose sizes come from the input, with and
// without credentials required. It checks that a handshake never asks to connect without having read a
// complete request, and that a refused handshake stays refused.
// fuzz-links: tether_tunnel_client
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/tunnel/ProxyAuth.hpp"
#include "server/tunnel/Socks5Handshake.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::tunnelclient;
  static const ProxyAuth secret(ProxyCredentials{"tether", "pw"});
  static const ProxyAuth open = ProxyAuth::none();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const ProxyAuth* auth : {&secret, &open}) {
    Socks5Handshake handshake(*auth);
    std::size_t at = 0, round = 0;
    bool closed = false;
    while (at < input.size() && !closed) {
      const std::size_t piece = 1 + (static_cast<unsigned char>(input[round++ % input.size()]) % 16);
      const auto step = handshake.feed(input.substr(at, piece));
      at += piece;
      if (step.next == Socks5Handshake::Next::Connect && handshake.port() == 0 && handshake.host().empty())
        std::abort();
      closed = step.next == Socks5Handshake::Next::Close;
    }
    if (closed && handshake.feed(input).next != Socks5Handshake::Next::Close) std::abort();
  }
  return 0;
}
