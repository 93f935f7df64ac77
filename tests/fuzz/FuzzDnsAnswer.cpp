// FuzzDnsAnswer.cpp - libFuzzer target for the DNS the preload shim's resolver reads: answers (from the
// cluster's resolver through the agent) and questions (a local program's datagrams to its nameserver). Any
// bytes must parse without reading past the message, every address given back must be an address, and an
// answer built for a question must read back as an answer with that question's rcode.
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
  if (const auto question = parseDnsQuestion(input)) {
    if (question->end > input.size() || question->name.size() > 253) std::abort();
    const auto built = parseDnsAnswer(dnsResponse(input, *question, 3, {"10.96.0.1"}, 5));
    if (built.rcode != 3 || built.addresses.size() != (question->type == 1 ? 1u : 0u)) std::abort();
  }
  return 0;
}
