// Http2Connection.hpp - one client connection of the router speaking HTTP/2 in cleartext (h2c, gRPC), routed
// per stream: each request's headers are matched against the route table when they are complete, and the
// stream goes to a lease's target or to the stable Service on an HTTP/2 connection of this connection's
// own to that target. So one long-lived gRPC channel carries Alice's, Bob's and everyone else's calls at
// once, each to its place, and a route that changes takes effect at the next stream.
//
// Frames pass as they come: request and response headers (pseudo-headers included), DATA, trailers
// (trailers-only gRPC answers stay trailers-only), RST_STREAM with its code both ways. Flow control is end to
// end: neither side's window is given back until its bytes were handed to the other side, so a slow reader
// holds the sender back instead of filling the router's memory. A lease's target that refuses the
// connection sends its streams to stable (marked `tether-route: fallback`); a stable that cannot be
// reached answers 502. A client that breaks the protocol gets GOAWAY(PROTOCOL_ERROR); others are untouched.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "shadow/router/Deadline.hpp"
#include "shadow/router/Http1Connection.hpp"
#include "shadow/router/Http2Io.hpp"
#include "shadow/router/UpstreamPool.hpp"

namespace tether::shadow::router {

class Http2Connection : public std::enable_shared_from_this<Http2Connection> {
 public:
  // `preface`: what the classifier read (the connection preface, maybe more).
  Http2Connection(RouterServices& services, boost::asio::ip::tcp::socket client, std::string preface,
                  Endpoint stable, std::uint16_t port);
  ~Http2Connection();

  boost::asio::awaitable<void> run();

  struct Stream;
  struct Upstream;

  // nghttp2's callbacks land here (Http2Connection.cpp); public for the C trampolines only.
  void streamCreated(std::int32_t id);
  void frameArrived();
  void onRequestHeaders(Stream& stream);
  void requestDataArrived(Stream& stream);
  void responseDataArrived(Stream& stream);
  void requestBytesSent(Stream& stream, std::size_t bytes);
  void responseBytesSent(Stream& stream, std::size_t bytes);
  void onUpstreamResponse(Upstream& upstream, Stream& stream, bool endStream);
  void onStreamClosedDownstream(std::int32_t id, std::uint32_t code);
  void onStreamClosedUpstream(Upstream& upstream, std::int32_t id, std::uint32_t code);
  Stream* stream(std::int32_t id);
  Http2Io& downstream() { return *down_; }

 private:
  void sendUpstream(const std::shared_ptr<Stream>& stream, const Endpoint& target);
  boost::asio::awaitable<void> connectUpstream(std::shared_ptr<Upstream> upstream);
  void submitRequest(const std::shared_ptr<Upstream>& upstream, const std::shared_ptr<Stream>& stream);
  void upstreamFailed(Upstream& upstream, const std::string& why, bool refused);
  void answerError(Stream& stream, int status, const std::string& message);
  static void giveBack(Http2Io* io, std::int32_t id, bool streamOpen, std::size_t bytes);

  RouterServices& services_;
  Endpoint stable_;
  std::uint16_t port_;
  std::string preface_;
  std::unique_ptr<Http2Io> down_;
  std::unique_ptr<Deadline> deadline_;  // a connection without any frame for RouterConfig::spliceIdle ends
  std::map<std::int32_t, std::shared_ptr<Stream>> streams_;
  std::map<std::string, std::shared_ptr<Upstream>> upstreams_;  // by target; replaced after GOAWAY
  std::string peer_;
};

}  // namespace tether::shadow::router
