// PortForward.hpp - one TCP conversation with a port of a pod, through the API server, over WebSocket
// `v4.channel.k8s.io` (k8s-api-notes.md §8.3), with the kubeconfig's TLS settings and credentials and
// through proxy-url / HTTPS_PROXY (HTTP CONNECT), as kubectl reaches the cluster.
//
// Each stream is one WebSocket: data channel 0, error channel 1, a 2-byte port prefix on the first
// server message of each. Error-channel text (nothing listening, pod gone) becomes PortForwardError.
// Keepalive pings run while the stream is idle; a peer that stops answering is detected within the
// configured idle timeout. Streams must be used from one coroutine chain at a time (one strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace tether::kube {

class Client;

class PortForwardError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PortForwardConfig {
  std::chrono::milliseconds connectTimeout{std::chrono::seconds(10)};
  std::chrono::milliseconds handshakeTimeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idleTimeout{std::chrono::seconds(30)};  // keepalive pings at half of it
};

class PortForwardStream {
 public:
  struct Impl;
  explicit PortForwardStream(std::unique_ptr<Impl> impl);
  ~PortForwardStream();

  // Bytes from the pod's port; 0 at end of stream. Throws PortForwardError on error-channel text.
  boost::asio::awaitable<std::size_t> readSome(boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<void> write(boost::asio::const_buffer data);
  // Closes the WebSocket (the pod side sees the connection end).
  boost::asio::awaitable<void> close();
  // Drops the connection at once (no close handshake); pending reads and writes complete with an error.
  // Safe to call at any time, also twice.
  void abort();
  // "port-forward to pod ns/name port 7000", for logs.
  const std::string& describe() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// Opens a forwarded connection to `port` of pod `namespaceName/pod`. Throws PortForwardError naming the
// pod, the port and the cause (TLS, proxy, credentials, 403/404, error-channel text).
boost::asio::awaitable<std::unique_ptr<PortForwardStream>> openPortForward(Client& client,
                                                                           std::string namespaceName,
                                                                           std::string pod,
                                                                           std::uint16_t port,
                                                                           PortForwardConfig config = {});

}  // namespace tether::kube
