// DnsMessage.hpp - the little of the DNS wire format the forwarder needs: a SERVFAIL answer built from a
// query, so a client whose question could not be relayed gets an immediate answer instead of a timeout.
#pragma once

#include <string>
#include <string_view>

namespace tether::tunnelclient {

inline constexpr std::size_t kDnsHeaderSize = 12;

// The query echoed back as a response with RCODE 2 (SERVFAIL); empty when `query` is shorter than a header.
std::string servfailFor(std::string_view query);

}  // namespace tether::tunnelclient
