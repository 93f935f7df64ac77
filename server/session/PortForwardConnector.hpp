// PortForwardConnector.hpp - joins the kube client's port-forward and the tunnel: the shadow's tunnel port,
// reached through the API server, as the byte stream the tunnel client runs on. The only place where kube
// and tunnel meet, as ARCHITECTURE.md asks.
#pragma once

#include <cstdint>
#include <string>

#include "server/tunnel/TunnelClient.hpp"

namespace tether::kube {
class Client;
}

namespace tether::support {
class ThreadPool;
}

namespace tether::session {

// Each call of the returned Connector opens a new port-forward to `pod`'s `port` (the client reconnects
// through it after a drop). Port-forward failures become Connected::error with the kube client's message.
// With `uid` set, the pod is read first: a pod of that name with another uid (one that took the name after
// the shadow was deleted) is refused for good, before any byte is sent to it. The calls that may block (that
// read, and the credentials, which can run a kubeconfig exec plugin) run on `blocking`, never on the I/O
// thread other sessions share.
tunnelclient::Connector portForwardConnector(kube::Client& client, support::ThreadPool& blocking,
                                             std::string namespaceName, std::string pod, std::string uid,
                                             std::uint16_t port);

}  // namespace tether::session
