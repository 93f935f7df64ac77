// FuzzDnsAnswer.cpp - libFuzzer target for the DNS answers the preload shim's resolver reads (they come
// from the cluster's resolver through the agent): any bytes must parse without reading past the message,
// and every address given back must be an address.
// fuzz-links: tether_tunnel_client
#include <arpa/inet.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/tunnel/DnsMessage.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::tunnelclient;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto answer = parseDnsAnswer(input);
  for (const auto& address : answer.addresses) {
    unsigned char bytes[16];
    if (::inet_pton(AF_INET, address.c_str(), bytes) != 1 &&
        ::inet_pton(AF_INET6, address.c_str(), bytes) != 1)
      std::abort();
  }
  if (answer.rcode < -1 || answer.rcode > 15) std::abort();
  return 0;
}
