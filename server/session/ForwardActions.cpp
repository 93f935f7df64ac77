// ForwardActions.cpp - forward's own actions: read the Service and resolve the ports (LOCAL[:PORT], PORT a
// Service port by number or name), then, once the tunnel is up, one local listener per port whose
// connections the shadow dials to the Service's ClusterIP: the cluster balances each one over the ready
// endpoints, and follows them as they change. Nothing in the cluster is changed but the shadow.
#include <boost/asio/post.hpp>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/kube/Client.hpp"
#include "server/session/ActionOutcome.hpp"
#include "server/session/ShadowSessionImpl.hpp"
#include "server/tunnel/PortForwarder.hpp"

namespace tether::session {

namespace asio = boost::asio;

using action::done;
using action::failed;
using action::fromError;

Outcome ShadowSession::Impl::readForwardService() {
  const auto where = "Service \"" + request.service + "\" in namespace \"" + request.namespaceName + "\"";
  auto service = kube::getService(*client, request.namespaceName, request.service);
  if (service.is(kube::ApiReason::NotFound)) {
    return serviceNotFound(where);
  }
  if (!service) return fromError(service.error(), "reading " + where);
  original = service.value();
  if (original.namespaceName.empty()) original.namespaceName = request.namespaceName;
  targetNumbers.clear();  // the shadow listens on nothing: it only dials
  try {
    exposed = resolveExpose(request.expose, original);
  } catch (const ExposeError& error) {
    return failed(where + ": " + remedy::exposeProblem(request.audience, error.what()),
                  FailureReason::InvalidExpose);
  }
  publishExposed();
  return done();
}

Outcome ShadowSession::Impl::openForwards() {
  // The ClusterIP is what an in-cluster client's connection goes to; a headless Service has none, and its
  // name resolves (in the shadow) to the pods themselves.
  const bool headless = original.clusterIP.empty() || original.clusterIP == "None";
  const auto host = headless ? request.service + "." + request.namespaceName : original.clusterIP;
  for (const auto& port : exposed) {
    const auto local = static_cast<std::uint16_t>(port.local);
    // Without a ClusterIP nothing maps the Service port: the pods listen on the target port.
    int remote = port.servicePort;
    if (headless) {
      if (!action::isNumber(port.targetPort)) {
        return failed("Service " + request.service + " is headless and its port " +
                      std::to_string(port.servicePort) + " targets the named container port \"" +
                      port.targetPort + "\"; forward to a Service with a ClusterIP, or to a numeric port");
      }
      remote = std::stoi(port.targetPort);
    }
    auto forwarder = std::make_shared<tunnelclient::PortForwarder>(
        tunnel, host, static_cast<std::uint16_t>(remote),
        [this, local](const std::string& error) { onForwardResult(local, error); });
    std::string error;
    if (!forwarder->bind(local, error)) {
      return failed("cannot listen on 127.0.0.1:" + std::to_string(port.local) + " (" + error +
                    "); pick another local port, or stop what uses it");
    }
    forwarders.push_back(forwarder);
    asio::post(executor, [this, forwarder] { tunnel::spawnLogged(executor, forwarder->serve(), "forward"); });
  }
  return done();
}

void ShadowSession::Impl::onForwardResult(std::uint16_t port, const std::string& error) {
  bool changed = false;
  {
    std::lock_guard guard(mutex);
    if (error.empty()) {
      changed = forwardProblems.erase(port) > 0;
    } else {
      changed = forwardProblems.insert_or_assign(port, error).second;
    }
  }
  if (changed) publish(false, /*fromDriver=*/false);
}

}  // namespace tether::session
