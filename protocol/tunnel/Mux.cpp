// Mux.cpp - stream bookkeeping, credit accounting and control frames of the multiplexer.
#include "protocol/tunnel/Mux.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "protocol/tunnel/Codec.hpp"

namespace tether::tunnel {

Mux::Mux(Role role, MuxConfig config, PeerParams peer)
    : role_(role), config_(config), peer_(peer), nextStreamId_(role == Role::Client ? 1u : 2u) {}

void Mux::fail(std::string message) {
  if (!failure_) failure_ = std::move(message);
}

void Mux::frame(FrameType type, std::uint32_t id, std::string_view payload) {
  abandonPrepared();
  encodeFrame(output_, type, id, payload);
}

void Mux::answer(FrameType type, std::uint32_t id, std::string_view payload) {
  // What the peer asks for (PONGs, DNS and LISTEN answers, refusals of its OPENs) is queued whether or not
  // DATA may flow, so it is bounded on its own: a peer that keeps asking without reading the answers is
  // broken or hostile, and the connection ends rather than the queue growing without limit.
  if (output_.size() + payload.size() > config_.outputHighWater + config_.maxAnswerBacklog) {
    return fail("the peer asks faster than it reads the answers (output queue over " +
                std::to_string(config_.outputHighWater + config_.maxAnswerBacklog) + " bytes)");
  }
  frame(type, id, payload);
}

void Mux::abandonPrepared() {
  if (!prepared_) return;
  output_.truncate(prepared_->headerAt);
  prepared_.reset();
}

bool Mux::peerOwns(std::uint32_t id) const {
  // Client-opened ids are odd; a peer may only open ids of its own parity.
  const bool odd = (id % 2) == 1;
  return role_ == Role::Agent ? odd : !odd;
}

Mux::Stream* Mux::find(std::uint32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

const Mux::Stream* Mux::find(std::uint32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

std::optional<MuxEvent> Mux::popEvent() {
  if (events_.empty()) return std::nullopt;
  MuxEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void Mux::takeOutput(ByteBuffer& into) {
  abandonPrepared();
  into.clear();
  into.swap(output_);
  for (auto id : blockedOnOutput_) {
    if (exists(id)) emit(MuxEvent::Kind::Writable, id);
  }
  blockedOnOutput_.clear();
}

void Mux::receive(const FrameView& f) {
  if (failure_) return;
  using K = MuxEvent::Kind;
  switch (f.type) {
    case FrameType::Hello:
    case FrameType::Welcome:
    case FrameType::Auth:
      fail(std::string(toString(f.type)) + " after the handshake");
      return;
    case FrameType::Open:
      onOpen(f);
      return;
    case FrameType::Accept: {
      Stream* s = find(f.id);
      if (!s || s->reset) return;
      if (!s->ours) return fail("ACCEPT for stream " + std::to_string(f.id) + " that the peer opened");
      if (!s->accepted) {
        s->accepted = true;
        emit(K::Accepted, f.id);
      }
      return;
    }
    case FrameType::Data:
      onData(f);
      return;
    case FrameType::Fin: {
      Stream* s = find(f.id);
      if (!s || s->reset) return;
      s->remoteFin = true;
      emit(K::Readable, f.id);
      return;
    }
    case FrameType::Reset: {
      Stream* s = find(f.id);
      if (!s || s->reset) return;
      auto status = parseStatus(f.payload).value_or(Status{Code::ProtocolError, "malformed RESET"});
      localReset(f.id, *s, status.code, std::move(status.message), false);
      return;
    }
    case FrameType::Window: {
      auto inc = parseU32(f.payload);
      if (!inc) return fail("malformed WINDOW");
      Stream* s = find(f.id);
      if (!s || s->reset) return;
      s->sendCredit =
          std::min<std::uint64_t>(s->sendCredit + *inc, std::numeric_limits<std::uint32_t>::max());
      emit(K::Writable, f.id);
      return;
    }
    case FrameType::Ping:
      answer(FrameType::Pong, 0, f.payload);
      return;
    case FrameType::Pong: {
      MuxEvent& e = emit(K::Pong, 0);
      e.value = parseU64(f.payload).value_or(0);
    }
      return;
    case FrameType::DnsQuery:
      if (role_ != Role::Agent) return fail("DNS_QUERY sent to the client");
      {
        MuxEvent& e = emit(K::DnsQuery, f.id);
        e.payload = std::string(f.payload);
      }
      return;
    case FrameType::DnsReply: {
      auto reply = parseDnsReply(f.payload);
      if (!reply) return fail("malformed DNS_REPLY");
      {
        MuxEvent& e = emit(K::DnsReply, f.id);
        e.status = {reply->code, reply->message};
        e.payload = reply->answer;
      }
      return;
    }
    case FrameType::Listen: {
      auto port = parseU16(f.payload);
      if (!port) return fail("malformed LISTEN");
      if (role_ != Role::Agent) return fail("LISTEN sent to the client");
      {
        MuxEvent& e = emit(K::Listen, f.id);
        e.port = *port;
      }
      return;
    }
    case FrameType::ListenResult: {
      auto result = parseListenResult(f.payload);
      if (!result) return fail("malformed LISTEN_RESULT");
      {
        MuxEvent& e = emit(K::ListenResult, f.id);
        e.status = {result->code, result->message};
        e.port = result->port;
      }
      return;
    }
    case FrameType::Unlisten: {
      auto port = parseU16(f.payload);
      if (!port) return fail("malformed UNLISTEN");
      {
        MuxEvent& e = emit(K::Unlisten, 0);
        e.port = *port;
      }
      return;
    }
    case FrameType::Goaway: {
      auto status = parseStatus(f.payload).value_or(Status{Code::ShuttingDown, ""});
      goawayReceived_ = true;
      {
        MuxEvent& e = emit(K::Goaway, 0);
        e.status = std::move(status);
      }
      return;
    }
  }
}

void Mux::onOpen(const FrameView& f) {
  if (!peerOwns(f.id) || f.id <= lastPeerStreamId_) {
    return fail("OPEN with stream id " + std::to_string(f.id) + " the peer may not use");
  }
  lastPeerStreamId_ = f.id;
  auto target = parseOpen(f.payload);
  if (!target) {
    answer(FrameType::Reset, f.id, encode(Status{Code::Refused, "malformed or unsupported OPEN"}));
    return;
  }
  if (goawaySent_) {
    answer(FrameType::Reset, f.id, encode(Status{Code::ShuttingDown, "the tunnel is shutting down"}));
    return;
  }
  if (streams_.size() - ownStreams_ >= config_.maxPeerStreams || held_ >= config_.maxBuffered) {
    answer(FrameType::Reset, f.id, encode(Status{Code::Busy, "stream or memory limit reached"}));
    return;
  }
  Stream& s = streams_[f.id];
  s.window = config_.streamWindow;
  s.recvWindow = config_.streamWindow;
  s.sendCredit = peer_.streamWindow;
  {
    MuxEvent& e = emit(MuxEvent::Kind::Opened, f.id);
    e.open = std::move(*target);
  }
}

bool Mux::canDeliverDirect(const FrameView& f) const {
  if (f.type != FrameType::Data || f.payload.empty() || failure_) return false;
  const Stream* s = find(f.id);
  return s && !s->reset && !s->remoteFin && s->inOffset == s->inbound.size() &&
         f.payload.size() <= s->recvWindow;
}

void Mux::receiveDelivered(const FrameView& f, std::size_t delivered) {
  if (!canDeliverDirect(f)) return receive(f);
  onData(f, std::min(delivered, f.payload.size()));
}

void Mux::onData(const FrameView& f, std::size_t delivered) {
  Stream* s = find(f.id);
  if (!s || s->reset) return;  // data in flight when we reset or released the stream
  if (s->remoteFin) {
    localReset(f.id, *s, Code::ProtocolError, "DATA after FIN", true);
    return;
  }
  if (f.payload.size() > s->recvWindow) {
    localReset(f.id, *s, Code::FlowControl, "DATA beyond the granted window", true);
    return;
  }
  if (f.payload.empty()) return;
  s->recvWindow -= static_cast<std::uint32_t>(f.payload.size());
  if (delivered > 0) {
    // The driver wrote these bytes to the reader already: they were received and consumed in one step.
    s->unacked += static_cast<std::uint32_t>(delivered);
    if (delivered == f.payload.size()) {
      returnCredit(f.id, *s);
      return;
    }
  }
  const std::string_view rest = f.payload.substr(delivered);
  const std::size_t n = rest.size();
  ByteBuffer& in = s->inbound;
  if (in.capacity() - in.size() < n && s->inOffset > 0) {
    // Unread bytes move to the front before the buffer grows, so the buffer is bounded by the window
    // (the unread bytes never exceed it) however the reader keeps pace.
    const std::size_t unread = in.size() - s->inOffset;
    std::memmove(in.data(), in.data() + s->inOffset, unread);
    in.truncate(unread);
    s->inOffset = 0;
  }
  if (in.capacity() - in.size() < n) {
    const std::size_t grown = std::max(in.size() + n, std::min<std::size_t>(in.capacity() * 2, s->window));
    if (!makeRoom(f.id, grown - in.capacity())) return;
    held_ += grown - in.capacity();
    in.reserve(grown);
  }
  in.append(rest);
  buffered_ += n;
  if (delivered > 0) returnCredit(f.id, *s);  // for the delivered part; the buffered rest is not read yet
  emit(MuxEvent::Kind::Readable, f.id);
}

bool Mux::makeRoom(std::uint32_t id, std::size_t growth) {
  // Credit bounds each stream, not their sum: many readers that stopped could together hold far more than
  // the process may use (the shadow pod has a memory limit). So when a buffer must grow past maxBuffered
  // in total, the stream with the largest buffer, counting this growth, is reset Busy: that is a reader
  // that stopped, while the busy streams keep flowing. False when it is stream `id` itself.
  while (held_ + growth > config_.maxBuffered) {
    std::uint32_t victim = id;
    std::size_t largest = find(id)->inbound.capacity() + growth;
    for (auto& [other, s] : streams_) {
      if (!s.reset && s.inbound.capacity() > largest) {
        victim = other;
        largest = s.inbound.capacity();
      }
    }
    localReset(victim, *find(victim), Code::Busy, "memory limit reached: the reader stopped", true);
    if (victim == id) return false;
  }
  return true;
}

void Mux::dropInbound(Stream& s) {
  buffered_ -= s.inbound.size() - s.inOffset;
  held_ -= s.inbound.capacity();
  s.inbound = ByteBuffer();
  s.inOffset = 0;
}

void Mux::localReset(std::uint32_t id, Stream& s, Code code, std::string message, bool sendFrame) {
  if (sendFrame) frame(FrameType::Reset, id, encode(Status{code, message}));
  s.reset = true;
  s.resetStatus = Status{code, std::move(message)};
  dropInbound(s);
  {
    MuxEvent& e = emit(MuxEvent::Kind::Reset, id);
    e.status = s.resetStatus;
  }
}

std::optional<std::uint32_t> Mux::open(const Open& target) {
  if (goawaySent_ || goawayReceived_ || ownStreams_ >= config_.maxOwnStreams) return std::nullopt;
  const std::uint32_t id = nextStreamId_;
  nextStreamId_ += 2;
  Stream& s = streams_[id];
  s.ours = true;
  ++ownStreams_;
  s.window = config_.streamWindow;
  s.recvWindow = config_.streamWindow;
  s.sendCredit = peer_.streamWindow;
  frame(FrameType::Open, id, encode(target));
  return id;
}

void Mux::accept(std::uint32_t id) {
  Stream* s = find(id);
  if (!s || s->reset || s->ours || s->accepted) return;
  s->accepted = true;
  frame(FrameType::Accept, id, {});
}

std::size_t Mux::sendRoom(std::uint32_t id) {
  Stream* s = find(id);
  if (!s || s->reset || s->localFin) return 0;
  if (output_.size() >= config_.outputHighWater) {
    if (std::find(blockedOnOutput_.begin(), blockedOnOutput_.end(), id) == blockedOnOutput_.end()) {
      blockedOnOutput_.push_back(id);
    }
    return 0;
  }
  return static_cast<std::size_t>(std::min<std::uint64_t>(s->sendCredit, peer_.maxFrame));
}

std::span<char> Mux::prepareSend(std::uint32_t id, std::size_t maxBytes) {
  abandonPrepared();
  const std::size_t room = std::min(sendRoom(id), maxBytes);
  if (room == 0) return {};
  const std::size_t headerAt = output_.size();
  char* header = output_.extend(kHeaderSize + room);
  prepared_ = PreparedSend{id, headerAt, room};
  return {header + kHeaderSize, room};
}

std::size_t Mux::commitSend(std::uint32_t id, std::size_t n) {
  if (!prepared_) return 0;
  const PreparedSend p = *prepared_;
  prepared_.reset();
  Stream* s = find(p.id);
  n = std::min(n, p.room);
  // A commit for another stream, or for a stream reset since the prepare, ends the prepared send unsent.
  if (p.id != id || n == 0 || !s || s->reset || s->localFin) {
    output_.truncate(p.headerAt);
    return 0;
  }
  encodeHeader(output_.data() + p.headerAt, FrameType::Data, id, static_cast<std::uint32_t>(n));
  output_.truncate(p.headerAt + kHeaderSize + n);
  s->sendCredit -= n;
  return n;
}

std::size_t Mux::send(std::uint32_t id, std::string_view bytes) {
  Stream* s = find(id);
  if (!s || s->reset || s->localFin) return 0;
  const auto n = static_cast<std::size_t>(
      std::min<std::uint64_t>({bytes.size(), s->sendCredit, static_cast<std::uint64_t>(peer_.maxFrame)}));
  if (n == 0) return 0;
  frame(FrameType::Data, id, bytes.substr(0, n));
  s->sendCredit -= n;
  return n;
}

void Mux::finish(std::uint32_t id) {
  Stream* s = find(id);
  if (!s || s->reset || s->localFin) return;
  s->localFin = true;
  frame(FrameType::Fin, id, {});
}

void Mux::reset(std::uint32_t id, Code code, std::string_view message) {
  Stream* s = find(id);
  if (!s || s->reset) return;
  localReset(id, *s, code, std::string(message), true);
}

std::string_view Mux::peek(std::uint32_t id) const {
  const Stream* s = find(id);
  if (!s) return {};
  return s->inbound.view().substr(s->inOffset);
}

void Mux::consume(std::uint32_t id, std::size_t n) {
  Stream* s = find(id);
  if (!s || s->reset) return;
  n = std::min(n, s->inbound.size() - s->inOffset);
  s->inOffset += n;
  buffered_ -= n;
  s->unacked += static_cast<std::uint32_t>(n);
  if (s->inOffset == s->inbound.size()) {
    // A drained stream gives its buffer back, so a thousand quiet streams cost almost nothing and the
    // memory budget counts only streams that hold data.
    held_ -= s->inbound.capacity();
    s->inbound = ByteBuffer();
    s->inOffset = 0;
  }
  returnCredit(id, *s);
}

void Mux::returnCredit(std::uint32_t id, Stream& s) {
  // Credit goes back in batches of a quarter window: fewer WINDOW frames, and the pipe never runs dry.
  if (s.unacked < s.window / 4 || s.remoteFin) return;
  std::uint32_t grant = s.unacked;
  const bool readerKeepsUp = s.inOffset == s.inbound.size();
  if (readerKeepsUp && s.window < config_.maxStreamWindow && held_ < config_.maxBuffered / 2) {
    // More bytes in flight for a stream that never makes its reader wait; it is the same memory bound
    // per stream as a larger streamWindow, earned only while nothing is waiting to be read.
    const std::uint32_t extra = std::min(s.window, config_.maxStreamWindow - s.window);
    s.window += extra;
    grant += extra;
  }
  frame(FrameType::Window, id, encodeU32(grant));
  s.recvWindow += grant;
  s.unacked = 0;
}

bool Mux::remoteFinished(std::uint32_t id) const {
  const Stream* s = find(id);
  return s && s->remoteFin && s->inOffset == s->inbound.size();
}

bool Mux::isReset(std::uint32_t id) const {
  const Stream* s = find(id);
  return !s || s->reset;
}

Status Mux::resetStatus(std::uint32_t id) const {
  const Stream* s = find(id);
  return s ? s->resetStatus : Status{Code::NotFound, "no such stream"};
}

bool Mux::isAccepted(std::uint32_t id) const {
  const Stream* s = find(id);
  return s && s->accepted;
}

void Mux::release(std::uint32_t id) {
  Stream* s = find(id);
  if (!s) return;
  if (!s->reset && !(s->localFin && s->remoteFin)) {
    frame(FrameType::Reset, id, encode(Status{Code::Cancelled, "the local side closed the stream"}));
  }
  dropInbound(*s);
  if (s->ours) --ownStreams_;
  streams_.erase(id);
}

void Mux::failAll(const Status& status) {
  for (auto& [id, s] : streams_) {
    if (!s.reset) localReset(id, s, status.code, status.message, false);
  }
}

void Mux::ping(std::uint64_t value) {
  frame(FrameType::Ping, 0, encodeU64(value));
}

std::uint32_t Mux::dnsQuery(std::string_view message) {
  const std::uint32_t id = nextRequestId_++;
  frame(FrameType::DnsQuery, id, message);
  return id;
}

void Mux::dnsReply(std::uint32_t requestId, const DnsReply& reply) {
  answer(FrameType::DnsReply, requestId, encode(reply));
}

std::uint32_t Mux::listen(std::uint16_t port) {
  const std::uint32_t id = nextRequestId_++;
  frame(FrameType::Listen, id, encodeU16(port));
  return id;
}

void Mux::listenResult(std::uint32_t requestId, const ListenResult& result) {
  answer(FrameType::ListenResult, requestId, encode(result));
}

void Mux::unlisten(std::uint16_t port) {
  frame(FrameType::Unlisten, 0, encodeU16(port));
}

void Mux::goaway(const Status& status) {
  if (goawaySent_) return;
  goawaySent_ = true;
  frame(FrameType::Goaway, 0, encode(status));
}

}  // namespace tether::tunnel
