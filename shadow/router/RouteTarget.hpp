// RouteTarget.hpp - where a routed request goes and how messages name it, shared by the HTTP/1.1 and
// HTTP/2 engines.
#pragma once

#include <string>

#include "protocol/mesh/RouteTable.hpp"
#include "shadow/router/UpstreamPool.hpp"

namespace tether::shadow::router {

// The lease's target, or stable when no lease takes the request.
Endpoint targetOf(const mesh::Route* route, const Endpoint& stable);
// "lease ID of OWNER (target HOST:PORT)" or "the stable Service HOST:PORT", for errors and logs.
std::string describeTarget(const mesh::Route* route, const Endpoint& stable);

}  // namespace tether::shadow::router
