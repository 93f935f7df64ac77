// ProxyProtocol.hpp - the PROXY protocol v1 line (haproxy's proxy-protocol.txt, section 2.1) that a reverse
// forward can send first on each connection to the local app, carrying the address of the cluster client
// that really connected. Without it every cluster connection reaches the app from 127.0.0.1 (the backend
// dials it), so the app can neither log nor check who called, and a "localhost only" check in it is void.
#pragma once

#include <string>
#include <string_view>

namespace tether::tunnelclient {

// "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" (TCP6 for IPv6) from "ip:port" / "[v6]:port" texts, or
// "PROXY UNKNOWN\r\n" when either is missing, malformed or of another family than the other.
std::string proxyProtocolV1(std::string_view peer, std::string_view local);

}  // namespace tether::tunnelclient
