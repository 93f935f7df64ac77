// RouteTarget.cpp - see RouteTarget.hpp.
#include "shadow/router/RouteTarget.hpp"

namespace tether::shadow::router {

Endpoint targetOf(const mesh::Route* route, const Endpoint& stable) {
  if (route == nullptr) return stable;
  return Endpoint{route->lease.target.host, route->lease.target.port};
}

std::string describeTarget(const mesh::Route* route, const Endpoint& stable) {
  if (route == nullptr) return "the stable Service " + stable.key();
  return "lease " + route->lease.id + " of " + route->lease.owner + " (target " + route->lease.target.host +
         ":" + std::to_string(route->lease.target.port) + ")";
}

}  // namespace tether::shadow::router
