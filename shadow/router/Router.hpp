// Router.hpp - the router role of tether-shadow: a listener per routed port, the control listener that
// leases arrive on, and the table they make. Connections on a port are classified (or taken as declared):
// HTTP/1.x goes to Http1Connection and is routed per request, h2c to Http2Connection and is routed per
// stream; TLS and raw TCP are spliced whole to the stable Service.
//
// A lease lives for its TTL unless renewed by another put; when it expires (or is dropped) new requests go
// to stable, requests in flight finish, and idle pooled connections to its target close. Everything runs
// on the io_context's one thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "protocol/mesh/Control.hpp"
#include "protocol/mesh/RouteTable.hpp"
#include "shadow/router/Http1Connection.hpp"
#include "shadow/router/RouterConfig.hpp"
#include "shadow/router/UpstreamPool.hpp"

namespace tether::shadow::router {

class Router {
 public:
  Router(boost::asio::io_context& ioc, RouterConfig config);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Binds every port and the control listener; false (logged) when one cannot be bound.
  bool start();
  // Stops accepting; connections in progress finish within their own bounds.
  void stop();

  // The bound ports, in the order of RouterConfig::ports (tests bind port 0).
  const std::vector<std::uint16_t>& listeningPorts() const { return bound_; }
  std::uint16_t controlPort() const { return controlPort_; }

  // The control requests, as the control listener applies them (also used by tests).
  std::string apply(const mesh::ControlRequest& request);

 private:
  struct Port {
    RoutedPort routed;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
  };

  boost::asio::awaitable<void> accepted(boost::asio::ip::tcp::socket socket, std::size_t port);
  boost::asio::awaitable<void> serveControl(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> answerReadiness(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> expireLeases();
  void leasesChanged();
  void forgetTargetsOf(const std::vector<mesh::Route>& gone);

  boost::asio::io_context& ioc_;
  RouterConfig config_;
  mesh::RouteTable table_;
  UpstreamPool pool_;
  std::vector<char> scratch_;
  RouterServices services_;
  std::vector<Port> ports_;
  std::vector<std::uint16_t> bound_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> control_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> ready_;
  std::uint16_t controlPort_ = 0;
  boost::asio::steady_timer expiry_;
  // Shared with each connection's coroutine: a frame destroyed after the router (the io_context outliving
  // it with connections still open) must not reach into the router.
  std::shared_ptr<std::size_t> connections_ = std::make_shared<std::size_t>(0);
  bool stopped_ = false;
  std::vector<bool> loggedWhole_;  // per port: a TLS/h2c connection was already logged as passed whole
};

}  // namespace tether::shadow::router
