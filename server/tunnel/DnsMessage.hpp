// DnsMessage.hpp - the little of the DNS wire format the backend needs: a SERVFAIL answer built from a
// query, so a client whose question could not be relayed gets an immediate answer instead of a timeout;
// and, for the preload shim's resolver, an A/AAAA question and the addresses of its answer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::tunnelclient {

inline constexpr std::size_t kDnsHeaderSize = 12;

// The query echoed back as a response with RCODE 2 (SERVFAIL); empty when `query` is shorter than a header.
std::string servfailFor(std::string_view query);

// A recursive query for `name` (dots between labels, no trailing dot needed) of type 1 (A) or 28 (AAAA);
// empty when the name is not a valid DNS name (a label over 63 bytes, the whole over 253, an empty label).
std::string dnsQuery(std::string_view name, std::uint16_t type, std::uint16_t id);

struct DnsAnswer {
  int rcode = -1;                      // 0 NOERROR, 3 NXDOMAIN ...; -1 when the message is malformed
  std::vector<std::string> addresses;  // every A/AAAA record of the answer section, as text
};

// Reads a response (untrusted: from the cluster's resolver through the agent); never reads past `reply`.
DnsAnswer parseDnsAnswer(std::string_view reply);

}  // namespace tether::tunnelclient
