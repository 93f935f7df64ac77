// PortForwarder.hpp - a local port whose every connection becomes one tunnel stream dialled by the agent to
// a fixed host:port. `tether forward` points it at a Service's ClusterIP, so each connection is balanced
// over the Service's ready endpoints by the cluster's own proxy, exactly as an in-cluster client's is.
//
// Like `kubectl port-forward`, the port asks no credentials (a database client pointed at it has nowhere
// to put any); it listens on 127.0.0.1 only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/tunnel/LoopbackProxy.hpp"

namespace tether::tunnelclient {

class PortForwarder final : public LoopbackProxy {
 public:
  // `onResult` hears each dial's outcome: empty when it reached the target, else why not (on the I/O thread).
  PortForwarder(std::shared_ptr<TunnelClient> client, std::string host, std::uint16_t port,
                std::function<void(const std::string&)> onResult, ProxyConfig config = {});

 private:
  boost::asio::awaitable<void> serveClient(boost::asio::ip::tcp::socket& socket) override;

  std::string host_;
  std::uint16_t port_;
  std::function<void(const std::string&)> onResult_;
};

}  // namespace tether::tunnelclient
