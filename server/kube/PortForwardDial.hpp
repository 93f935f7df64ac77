// PortForwardDial.hpp - the connection every port-forward protocol starts with: TCP to the API server
// (or an HTTP CONNECT proxy), TLS with the kubeconfig's CA, client certificate and server name, then a
// WebSocket upgrade of `.../pods/NAME/portforward` carrying the credentials. Internal to server/kube.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <memory>
#include <string>

#include "server/kube/PortForward.hpp"

namespace tether::kube::detail {

using TlsWebSocket = boost::beast::websocket::stream<boost::asio::ssl::stream<boost::beast::tcp_stream>>;

struct DialedWebSocket {
  std::shared_ptr<boost::asio::ssl::context> tls;  // outlives the stream that refers to it
  std::unique_ptr<TlsWebSocket> ws;
};

// Thrown when the server does not speak the requested subprotocol (a non-101 answer to the upgrade,
// or a 101 naming another protocol), so the caller may fall back to another one.
class SubprotocolRefused : public PortForwardError {
 public:
  using PortForwardError::PortForwardError;
};

struct DialRequest {
  std::string namespaceName;
  std::string pod;
  std::string query;                // after "?", e.g. "ports=8080"; may be empty
  std::string subprotocol;          // Sec-WebSocket-Protocol to ask for
  bool requireSubprotocol = false;  // a 101 without it is SubprotocolRefused (else it is the default)
  std::string what;                 // "port-forward to pod ns/p port 80", the prefix of every error
};

// Throws PortForwardError naming `request.what` and the cause (TLS, proxy, credentials, 403/404);
// SubprotocolRefused when the upgrade is answered without the subprotocol.
boost::asio::awaitable<DialedWebSocket> dialPortForward(Client& client, const DialRequest& request,
                                                        const PortForwardConfig& config);

}  // namespace tether::kube::detail
