// Resolv.hpp - where the DNS relay sends queries: the pod's first nameserver from resolv.conf, or an
// explicit --dns-server. Parsing is separate from I/O so it is unit-tested.
#pragma once

#include <boost/asio/ip/udp.hpp>

#include <optional>
#include <string>

namespace tether::shadow {

// The first `nameserver` line of resolv.conf text; empty when there is none.
std::string nameserverFromText(const std::string& text);
std::string nameserverFromResolvConf(const std::string& path);
// "10.96.0.10", "127.0.0.1:5353", "[fd00::a]:53" -> endpoint (port 53 by default).
std::optional<boost::asio::ip::udp::endpoint> parseDnsServer(const std::string& text);

}  // namespace tether::shadow
