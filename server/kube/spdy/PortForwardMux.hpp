// PortForwardMux.hpp - the client side of kubectl's port-forward protocol over one SPDY/3.1
// connection (k8s-api-notes.md §8.2), without I/O: many forwarded TCP connections share one
// connection to the API server, so opening another costs two frames and no handshake.
//
// Each forwarded connection is a pair of client-opened streams sharing a `requestid`: an error stream
// (we close our side at once; the server writes a message there if it cannot reach the pod's port) and
// a data stream carrying the bytes both ways. A connection is named by its data stream's id.
//
// Kubernetes' SPDY peers (spdystream) do no flow control, and neither does kubectl, so neither does
// this: memory is bounded by the driver, which stops reading the server when its readers fall behind.
// A violation of the connection's rules (bad framing, a header block that does not inflate) fails the
// whole connection: every later block depends on the broken zlib stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/kube/spdy/SpdyFrames.hpp"
#include "server/kube/spdy/SpdyHeaders.hpp"

namespace tether::kube::spdy {

struct PortForwardMuxConfig {
  std::size_t maxFramePayload = 16u * 1024u * 1024u;  // larger frames from the server fail the connection
  std::size_t maxSendFrame = 256u * 1024u;            // our DATA frames are cut to this size
};

struct PortForwardEvent {
  enum class Kind {
    Data,   // bytes from the pod's port on `connection`
    End,    // the pod's side finished sending (FIN on the data stream)
    Error,  // the server could not forward: `text` (from the error stream)
    Reset,  // the server reset one of the connection's streams: `text` names the status
    Pong,   // the server answered our PING `connection` (the ping id)
  };
  Kind kind = Kind::Data;
  std::uint32_t connection = 0;
  std::string text;
};

class PortForwardMux {
 public:
  explicit PortForwardMux(PortForwardMuxConfig config = {});

  // A new forwarded connection to `port`; returns its id. Fails (nullopt) after the connection failed,
  // after a GOAWAY, or when stream ids are exhausted.
  std::optional<std::uint32_t> open(std::uint16_t port);
  // Queues `bytes` for the pod; returns false if the connection is unknown, finished or reset.
  bool send(std::uint32_t connection, std::string_view bytes);
  // Half-close: FIN on the data stream (the pod reads EOF).
  void finish(std::uint32_t connection);
  // Ends the connection now: RST_STREAM(CANCEL) on both streams (the pod's side is dropped).
  void reset(std::uint32_t connection);
  // Forgets a connection. One still open towards us is reset, so the server stops sending for it.
  void release(std::uint32_t connection);
  void ping(std::uint32_t id);

  // Bytes from the server, in any cutting.
  void receive(std::string_view bytes);
  std::optional<PortForwardEvent> popEvent();
  const std::optional<std::string>& failure() const { return failure_; }
  bool goawayReceived() const { return goaway_; }

  bool hasOutput() const { return !output_.empty(); }
  std::size_t outputSize() const { return output_.size(); }
  void takeOutput(std::string& into);

  std::size_t connectionCount() const { return connections_.size(); }

 private:
  struct Connection {
    std::uint32_t errorStream = 0;
    std::string errorText;
    bool localFin = false;
    bool remoteFin = false;
    bool errorFinished = false;
    bool reset = false;
  };

  void fail(std::string message);
  void onControl(const Frame& frame);
  void onData(const Frame& frame);
  void onErrorStreamData(std::uint32_t connection, Connection& c, const Frame& frame);
  void emit(PortForwardEvent::Kind kind, std::uint32_t connection, std::string text = {});
  void synStream(std::uint32_t id, const HeaderList& headers);
  void rstStream(std::uint32_t id, ResetStatus status);
  // The connection a stream id belongs to (data or error stream), if any.
  Connection* owner(std::uint32_t streamId, std::uint32_t& connection);

  PortForwardMuxConfig config_;
  FrameReader reader_;
  HeaderCompressor compressor_;
  HeaderDecompressor decompressor_;
  std::unordered_map<std::uint32_t, Connection> connections_;      // by data stream id
  std::unordered_map<std::uint32_t, std::uint32_t> errorStreams_;  // error stream id -> connection
  std::deque<PortForwardEvent> events_;
  std::string output_;
  std::optional<std::string> failure_;
  std::uint32_t nextStreamId_ = 1;
  std::uint32_t nextRequestId_ = 0;
  bool goaway_ = false;
};

}  // namespace tether::kube::spdy
