// MeshControl.hpp - one conversation with a mesh router's control port (protocol/TUNNEL.md, "Mesh router
// control"), through a port-forward to the router pod: RBAC on pods/portforward is what lets a user put a
// lease. Called from a session's driver thread, which it blocks (bounded); the port-forward itself runs on
// the session's I/O executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tether::kube {
class Client;
}

namespace tether::session {

struct RouterReplies {
  std::vector<std::string> lines;  // one reply line per request line, in order
  std::string error;               // set when the conversation failed (then `lines` may be short)
};

// Sends `requests` (whole lines) and reads `expected` reply lines within `bound`.
RouterReplies talkToRouter(kube::Client& client, const boost::asio::any_io_executor& executor,
                           const std::string& namespaceName, const std::string& pod, std::uint16_t port,
                           const std::string& requests, std::size_t expected,
                           std::chrono::milliseconds bound);

}  // namespace tether::session
