// PortForward.hpp - one TCP conversation with a port of a pod, through the API server, over WebSocket
// `v4.channel.k8s.io` (k8s-api-notes.md §8.3), with the kubeconfig's TLS settings and credentials and
// through proxy-url / HTTPS_PROXY (HTTP CONNECT), as kubectl reaches the cluster.
//
// openPortForward: each stream is one WebSocket: data channel 0, error channel 1, a 2-byte port prefix
// on the first server message of each. PortForwardSession: streams share one SPDY connection. Error-channel
// text (nothing listening, pod gone) becomes PortForwardError. Keepalive pings run while the stream is idle;
// a peer that stops answering is detected within the configured idle timeout. Streams must be used from one
// coroutine chain at a time (one strand).
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
  explicit PortForwardError(const std::string& what, bool cancelled = false)
      : std::runtime_error(what), cancelled_(cancelled) {}
  // This side cancelled the operation (a stop): the end of a stream, not a drop worth a warning.
  bool cancelled() const { return cancelled_; }

 private:
  bool cancelled_ = false;
};

struct PortForwardConfig {
  std::chrono::milliseconds connectTimeout{std::chrono::seconds(10)};
  std::chrono::milliseconds handshakeTimeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idleTimeout{std::chrono::seconds(30)};  // keepalive pings at half of it
  // A shared connection stops reading the server while its streams hold this many unread bytes, so a
  // slow reader bounds memory (and, as with kubectl, holds back the other streams until it reads).
  std::size_t sharedReadLimit = 8u * 1024u * 1024u;
  // Writers wait while this many bytes are queued for the server on a shared connection.
  std::size_t sharedWriteLimit = 1024u * 1024u;
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

// A pod's port-forward connection that many forwarded connections share, as kubectl does: SPDY/3.1
// inside one WebSocket (`SPDY/3.1+portforward.k8s.io`, k8s-api-notes.md §8.2). Opening a forwarded
// connection then costs two frames instead of TCP + TLS + an upgrade. When the API server does not speak
// that protocol, connect() falls back to one `v4.channel.k8s.io` WebSocket per connection.
//
// The session and its streams must be used on the executor that opened the session (one strand). The
// shared connection closes when the session and every stream from it are gone; a lost connection
// (keepalive, server gone, protocol error) fails every stream on it with PortForwardError.
class PortForwardSession {
 public:
  struct Core;
  PortForwardSession(Client& client, std::string namespaceName, std::string pod, PortForwardConfig config,
                     std::shared_ptr<Core> core);
  ~PortForwardSession();
  PortForwardSession(const PortForwardSession&) = delete;
  PortForwardSession& operator=(const PortForwardSession&) = delete;

  // A new forwarded connection to `port`. On the shared connection it returns without a round trip;
  // a port nobody listens on is then reported by the stream's first read.
  boost::asio::awaitable<std::unique_ptr<PortForwardStream>> connect(std::uint16_t port);
  // True when connections share one connection (the server speaks SPDY over WebSocket).
  bool multiplexed() const { return core_ != nullptr; }
  // Why the shared connection ended, empty while it works (or without one).
  std::string lostReason() const;

 private:
  Client& client_;
  std::string namespaceName_;
  std::string pod_;
  PortForwardConfig config_;
  std::shared_ptr<Core> core_;
};

// Opens the shared connection to pod `namespaceName/pod` (or settles for per-connection WebSockets).
// Throws PortForwardError naming the pod and the cause, as openPortForward does.
boost::asio::awaitable<std::unique_ptr<PortForwardSession>> openPortForwardSession(
    Client& client, std::string namespaceName, std::string pod, PortForwardConfig config = {});

// Opens a forwarded connection to `port` of pod `namespaceName/pod`. Throws PortForwardError naming the
// pod, the port and the cause (TLS, proxy, credentials, 403/404, error-channel text).
boost::asio::awaitable<std::unique_ptr<PortForwardStream>> openPortForward(Client& client,
                                                                           std::string namespaceName,
                                                                           std::string pod,
                                                                           std::uint16_t port,
                                                                           PortForwardConfig config = {});

}  // namespace tether::kube
