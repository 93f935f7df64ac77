// DnsMessage.hpp - the little of the DNS wire format the backend needs: a SERVFAIL answer built from a
// query, so a client whose question could not be relayed gets an immediate answer instead of a timeout;
// for the preload shim's resolver, an A/AAAA question and the addresses of its answer; and, for the shim's
// UDP DNS, a query's question and an answer built from addresses.
#pragma once

#include <cstdint>
#include <optional>
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

// The first question of a query (untrusted: a local program's datagram).
struct DnsQuestion {
  std::string name;  // labels joined by dots, no trailing dot; bytes as sent (case kept)
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::size_t end = 0;  // where the question ends in the query
};

// nullopt unless `query` is a standard query (QR 0, opcode 0) with at least one question whose name is
// uncompressed and within the limits of a DNS name.
std::optional<DnsQuestion> parseDnsQuestion(std::string_view query);

// The response to `query` about `question`: its id, RD and question echoed, RA set, `rcode`, and one record
// per IPv4 address (type A, `ttl` seconds) when the question is of type A. Addresses that are not IPv4 are
// left out; an AAAA question gets none (NOERROR with no records: the name exists, without IPv6).
std::string dnsResponse(std::string_view query, const DnsQuestion& question, int rcode,
                        const std::vector<std::string>& ipv4, std::uint32_t ttl);

}  // namespace tether::tunnelclient
