// DnsMessage.cpp - SERVFAIL construction (RFC 1035 §4.1.1 header bits).
#include "server/tunnel/DnsMessage.hpp"

namespace tether::tunnelclient {

std::string servfailFor(std::string_view query) {
  if (query.size() < kDnsHeaderSize) return {};
  std::string reply(query);
  reply[2] = static_cast<char>(static_cast<unsigned char>(reply[2]) | 0x80u);  // QR: a response
  reply[3] =
      static_cast<char>((static_cast<unsigned char>(reply[3]) & 0x70u) | 0x80u | 0x02u);  // RA, RCODE=2
  return reply;
}

}  // namespace tether::tunnelclient
