// Mux.hpp - the sans-io stream multiplexer: streams, per-stream credit, bounded buffers, control frames.
//
// It owns no socket and no clock. A driver feeds decoded frames in (`receive`), calls stream
// operations on behalf of local sockets, writes `takeOutput()` to the transport and reacts to the
// events it pops. Everything that decides protocol behaviour lives here so that it can be tested step
// by step; the Asio driver only moves bytes and wakes coroutines.
//
// Memory: a stream buffers at most the window it granted (`MuxConfig::streamWindow`); DATA beyond the
// credit resets that stream alone. New streams are refused (RESET Busy) once `maxStreams` exist or
// `maxBuffered` bytes are held in total, so the total stays bounded by both limits. The receive path
// never waits for a reader, so a stalled stream cannot delay frames of the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/tunnel/Frame.hpp"
#include "protocol/tunnel/Messages.hpp"

namespace tether::tunnel {

enum class Role { Client, Agent };

struct MuxConfig {
  std::uint32_t streamWindow = 512u * 1024u;        // receive credit granted to every stream
  std::size_t maxStreams = 4096;                    // concurrent streams, both directions
  std::size_t maxBuffered = 64u * 1024u * 1024u;    // received bytes held across all streams
  std::size_t outputHighWater = 1024u * 1024u;      // queued output that stops DATA until drained
};

struct PeerParams {
  std::uint32_t maxFrame = 64u * 1024u;      // the peer's decoder limit
  std::uint32_t streamWindow = 256u * 1024u; // credit the peer grants each stream
};

struct MuxEvent {
  enum class Kind {
    Opened,        // the peer opened stream `id` (`open`); answer with accept() or reset()
    Accepted,      // the peer accepted stream `id` that we opened
    Readable,      // data or the peer's FIN arrived on `id`
    Writable,      // `id` may send again (credit arrived or output drained)
    Reset,         // `id` is gone (`status` says why, from the peer or from a local limit)
    DnsQuery,      // request `id`, DNS message in `payload`
    DnsReply,      // request `id` answered: `status` and DNS message in `payload`
    Listen,        // request `id`: listen on `port`
    ListenResult,  // request `id` answered: `status`, `port`
    Unlisten,      // stop listening on `port`
    Pong,          // `value` echoed from our ping
    Goaway,        // the peer accepts no new streams (`status`)
  };
  Kind kind = Kind::Readable;
  std::uint32_t id = 0;
  Open open{};
  Status status{};
  std::string payload;
  std::uint16_t port = 0;
  std::uint64_t value = 0;
};

class Mux {
 public:
  Mux(Role role, MuxConfig config, PeerParams peer);

  // Inbound: one decoded frame. A violation of the connection's rules sets failure(); the driver
  // then sends GOAWAY(ProtocolError) and closes. Violations inside one stream only reset that stream.
  void receive(const FrameView& frame);
  void receive(const Frame& frame) { receive(view(frame)); }
  const std::optional<std::string>& failure() const { return failure_; }

  std::optional<MuxEvent> popEvent();

  // Outbound bytes for the transport. Taking them re-enables streams that were blocked on output.
  bool hasOutput() const { return !output_.empty(); }
  std::size_t outputSize() const { return output_.size(); }
  void takeOutput(std::string& into);

  // Streams. Ids unknown to the mux are ignored by every operation.
  std::optional<std::uint32_t> open(const Open& target);  // nullopt after GOAWAY or at the limit
  void accept(std::uint32_t id);
  std::size_t sendRoom(std::uint32_t id);                 // bytes send() takes now; 0 = wait for Writable
  std::size_t send(std::uint32_t id, std::string_view bytes);
  void finish(std::uint32_t id);                          // half-close: FIN
  void reset(std::uint32_t id, Code code, std::string_view message);
  std::string_view peek(std::uint32_t id) const;          // received, unconsumed bytes
  void consume(std::uint32_t id, std::size_t n);          // returns credit to the peer
  bool remoteFinished(std::uint32_t id) const;            // FIN received and every byte consumed
  bool isReset(std::uint32_t id) const;
  Status resetStatus(std::uint32_t id) const;
  bool isAccepted(std::uint32_t id) const;
  bool exists(std::uint32_t id) const { return streams_.count(id) != 0; }
  // The application is done with the stream; a stream not closed both ways is reset (Cancelled).
  void release(std::uint32_t id);
  // The transport is gone: every stream is reset locally with `status`, no frames are sent.
  void failAll(const Status& status);

  // Connection-level control.
  void ping(std::uint64_t value);
  std::uint32_t dnsQuery(std::string_view message);
  void dnsReply(std::uint32_t requestId, const DnsReply& reply);
  std::uint32_t listen(std::uint16_t port);
  void listenResult(std::uint32_t requestId, const ListenResult& result);
  void unlisten(std::uint16_t port);
  void goaway(const Status& status);
  bool goawaySent() const { return goawaySent_; }
  bool goawayReceived() const { return goawayReceived_; }

  std::size_t streamCount() const { return streams_.size(); }
  std::size_t bufferedBytes() const { return buffered_; }

 private:
  struct Stream {
    std::string inbound;
    std::size_t inOffset = 0;
    std::uint32_t recvWindow = 0;  // credit the peer still has on this stream
    std::uint32_t unacked = 0;     // consumed bytes not yet returned with WINDOW
    std::uint64_t sendCredit = 0;
    bool ours = false;
    bool accepted = false;
    bool localFin = false;
    bool remoteFin = false;
    bool reset = false;
    Status resetStatus;
  };

  void fail(std::string message);
  MuxEvent& emit(MuxEvent::Kind kind, std::uint32_t id) {
    events_.emplace_back();
    events_.back().kind = kind;
    events_.back().id = id;
    return events_.back();
  }
  void frame(FrameType type, std::uint32_t id, std::string_view payload);
  void onOpen(const FrameView& f);
  void onData(const FrameView& f);
  void localReset(std::uint32_t id, Stream& s, Code code, std::string message, bool sendFrame);
  void dropInbound(Stream& s);
  bool peerOwns(std::uint32_t id) const;
  Stream* find(std::uint32_t id);
  const Stream* find(std::uint32_t id) const;

  Role role_;
  MuxConfig config_;
  PeerParams peer_;
  std::unordered_map<std::uint32_t, Stream> streams_;
  std::deque<MuxEvent> events_;
  std::string output_;
  std::vector<std::uint32_t> blockedOnOutput_;
  std::optional<std::string> failure_;
  std::uint32_t nextStreamId_;
  std::uint32_t lastPeerStreamId_ = 0;
  std::uint32_t nextRequestId_ = 1;
  std::size_t buffered_ = 0;
  bool goawaySent_ = false;
  bool goawayReceived_ = false;
};

}  // namespace tether::tunnel
