// Mux.hpp - the sans-io stream multiplexer: streams, per-stream credit, bounded buffers, control frames.
//
// It owns no socket and no clock. A driver feeds decoded frames in (`receive`), calls stream
// operations on behalf of local sockets, writes `takeOutput()` to the transport and reacts to the
// events it pops. Everything that decides protocol behaviour lives here so that it can be tested step
// by step; the Asio driver only moves bytes and wakes coroutines.
//
// Memory: a stream buffers at most the window it granted (`MuxConfig::streamWindow`, doubled up to
// `maxStreamWindow` while its reader keeps up), and its buffer never grows past that window; DATA beyond
// the credit resets that stream alone. The receive buffers together are held to `maxBuffered`: new
// streams are refused (RESET Busy) once that much is held, and DATA whose buffer would grow the total
// past it resets the stream with the largest buffer (RESET Busy), a reader that stopped, rather than
// letting the process grow. The output queue is bounded apart from that by `outputHighWater` plus one
// frame, and the answers to the peer's requests by maxAnswerBacklog more. The receive path never waits for a
// reader, so a stalled stream cannot delay frames of the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/tunnel/ByteBuffer.hpp"
#include "protocol/tunnel/Frame.hpp"
#include "protocol/tunnel/Messages.hpp"

namespace tether::tunnel {

enum class Role { Client, Agent };

struct MuxConfig {
  // Receive credit first granted to every stream, and so the memory bound of a stream whose reader is
  // slow. Chosen by measurement (bench/tunnel, 40 interleaved 100 MiB downloads per value over 8 fresh
  // tunnels): 256 KiB was ~15% slower than 512 KiB. It keeps 48 stalled streams within the shadow's
  // 24 MiB budget. (Fixed windows of 1-4 MiB, measured again once frames went out in one send, were 2-6%
  // faster for bulk: maxStreamWindow below gives that to the streams whose readers keep up.)
  std::uint32_t streamWindow = 512u * 1024u;
  // A stream whose reader has nothing unread when credit goes back keeps pace with its sender; its window
  // is then doubled, up to this, while the receive buffers hold under half of maxBuffered. A bulk stream
  // so never waits for credit, and a stalled one keeps the window it had. Equal to streamWindow: no growth.
  std::uint32_t maxStreamWindow = 2048u * 1024u;
  // Concurrent streams each side may have, counted apart: streams this side opened (the agent's listener
  // connections, the backend's proxy dials) and streams the peer opened. So a flood of connections arriving
  // at the shadow's listeners cannot use up what the developer's own outbound streams need, and the other
  // way.
  std::size_t maxOwnStreams = 4096;
  std::size_t maxPeerStreams = 4096;
  std::size_t maxBuffered = 64u * 1024u * 1024u;  // receive buffers held across all streams, in bytes
  std::size_t outputHighWater = 1024u * 1024u;    // queued output that stops DATA until drained
  // Answers to the peer's requests (PONG, DNS_REPLY, LISTEN_RESULT, refusals of its OPENs) allowed on top of
  // outputHighWater; past it the connection fails (ProtocolError) instead of queueing without limit.
  std::size_t maxAnswerBacklog = 1024u * 1024u;
};

struct PeerParams {
  std::uint32_t maxFrame = 64u * 1024u;       // the peer's decoder limit
  std::uint32_t streamWindow = 256u * 1024u;  // credit the peer grants each stream
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
  // Zero-copy receive: when canDeliverDirect(frame) (DATA the stream accepts, and no unread bytes before
  // it), the driver may write the payload straight to the stream's reader and then report how much it
  // took with receiveDelivered; those bytes count as received and consumed, only the rest is buffered
  // (with a Readable event). Nothing may touch the mux in between.
  bool canDeliverDirect(const FrameView& frame) const;
  void receiveDelivered(const FrameView& frame, std::size_t delivered);
  const std::optional<std::string>& failure() const { return failure_; }

  std::optional<MuxEvent> popEvent();

  // Outbound bytes for the transport. Taking them swaps the queue into `into` (whose old bytes are
  // dropped and whose storage becomes the next queue) and re-enables streams that were blocked on output.
  bool hasOutput() const { return !output_.empty(); }
  std::size_t outputSize() const { return output_.size(); }
  void takeOutput(ByteBuffer& into);

  // Streams. Ids unknown to the mux are ignored by every operation.
  std::optional<std::uint32_t> open(const Open& target);  // nullopt after GOAWAY or at the limit
  void accept(std::uint32_t id);
  std::size_t sendRoom(std::uint32_t id);  // bytes send() takes now; 0 = wait for Writable
  std::size_t send(std::uint32_t id, std::string_view bytes);
  // Zero-copy send: a DATA header is queued with room behind it for up to min(maxBytes, credit, the peer's
  // max frame) bytes, so a socket read lands in its frame. commitSend(id, n) then sets the length to the n
  // bytes written (n == 0 drops the frame) and takes n from the credit; the frame is the one send() would
  // have queued for the same bytes. An empty span means what sendRoom() == 0 means.
  // At most one prepared send is outstanding, and nothing else may use the mux until it is committed: a
  // second prepareSend, any call that queues a frame, and takeOutput() abandon it (commitSend then returns
  // 0), so the queue never carries unwritten bytes.
  std::span<char> prepareSend(std::uint32_t id, std::size_t maxBytes);
  std::size_t commitSend(std::uint32_t id, std::size_t n);
  void finish(std::uint32_t id);  // half-close: FIN
  void reset(std::uint32_t id, Code code, std::string_view message);
  std::string_view peek(std::uint32_t id) const;  // received, unconsumed bytes
  void consume(std::uint32_t id, std::size_t n);  // returns credit to the peer
  bool remoteFinished(std::uint32_t id) const;    // FIN received and every byte consumed
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
  std::size_t ownStreamCount() const { return ownStreams_; }
  std::size_t bufferedBytes() const { return buffered_; }  // received, unread
  std::size_t heldBytes() const { return held_; }          // receive buffers, what maxBuffered bounds

 private:
  struct Stream {
    ByteBuffer inbound;  // [inOffset, size) is unread; capacity never exceeds the window
    std::size_t inOffset = 0;
    std::uint32_t window = 0;      // the credit granted in all: streamWindow, grown for a fast reader
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

  struct PreparedSend {
    std::uint32_t id = 0;
    std::size_t headerAt = 0;  // offset of the DATA header in output_
    std::size_t room = 0;      // payload bytes reserved behind it
  };

  void fail(std::string message);
  MuxEvent& emit(MuxEvent::Kind kind, std::uint32_t id) {
    events_.emplace_back();
    events_.back().kind = kind;
    events_.back().id = id;
    return events_.back();
  }
  void frame(FrameType type, std::uint32_t id, std::string_view payload);
  void answer(FrameType type, std::uint32_t id, std::string_view payload);
  void onOpen(const FrameView& f);
  void onData(const FrameView& f, std::size_t delivered = 0);
  void returnCredit(std::uint32_t id, Stream& s);
  bool makeRoom(std::uint32_t id, std::size_t growth);
  void abandonPrepared();
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
  ByteBuffer output_;
  std::optional<PreparedSend> prepared_;
  std::vector<std::uint32_t> blockedOnOutput_;
  std::optional<std::string> failure_;
  std::uint32_t nextStreamId_;
  std::uint32_t lastPeerStreamId_ = 0;
  std::uint32_t nextRequestId_ = 1;
  std::size_t ownStreams_ = 0;  // streams in streams_ that we opened (the rest the peer opened)
  std::size_t buffered_ = 0;    // unread bytes across streams
  std::size_t held_ = 0;        // capacity of the streams' receive buffers
  bool goawaySent_ = false;
  bool goawayReceived_ = false;
};

}  // namespace tether::tunnel
