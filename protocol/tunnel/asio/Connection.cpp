// Connection.cpp - handshake, the three connection loops, request/answer waits and teardown.
// The socket pump lives in Pump.cpp.
#include "protocol/tunnel/asio/Connection.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <variant>

#include "protocol/tunnel/Handshake.hpp"
#include "support/text/Random.hpp"

namespace tether::tunnel {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// One transport read. Large transfers are bound by syscalls per byte (three TCP hops where a direct
// connection has one), so reads, pump reads and frames all go up to 256 KiB.
constexpr std::size_t kReadSize = 256u * 1024u;

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

}  // namespace

void ConnectionHandler::onOpen(const std::shared_ptr<Connection>& conn, std::uint32_t id, const Open&) {
  conn->reset(id, Code::Refused, "this side accepts no streams");
}

void ConnectionHandler::onListen(const std::shared_ptr<Connection>& conn, std::uint32_t requestId,
                                 std::uint16_t port) {
  conn->replyListen(requestId, ListenResult{Code::Refused, port, "this side has no listeners"});
}

void ConnectionHandler::onUnlisten(const std::shared_ptr<Connection>&, std::uint16_t) {}

void ConnectionHandler::onDnsQuery(const std::shared_ptr<Connection>& conn, std::uint32_t requestId,
                                   std::string) {
  conn->replyDns(requestId, DnsReply{Code::Refused, "this side has no resolver", ""});
}

void ConnectionHandler::onGoaway(const std::shared_ptr<Connection>&, const Status&) {}

void ConnectionHandler::onEstablished(const std::shared_ptr<Connection>&) {}

std::shared_ptr<Connection> Connection::create(Executor executor, std::unique_ptr<ByteStream> stream,
                                               Role role, ConnectionConfig config,
                                               ConnectionHandler& handler) {
  return std::shared_ptr<Connection>(
      new Connection(std::move(executor), std::move(stream), role, config, handler));
}

Connection::Connection(Executor executor, std::unique_ptr<ByteStream> stream, Role role,
                       ConnectionConfig config, ConnectionHandler& handler)
    : executor_(std::move(executor)),
      stream_(std::move(stream)),
      role_(role),
      config_(std::move(config)),
      handler_(handler),
      decoder_(FrameLimits{kHandshakeMaxFrame}),
      writerWake_(executor_, Clock::time_point::max()),
      drainWake_(executor_, Clock::time_point::max()) {}

Connection::~Connection() = default;

asio::awaitable<Status> Connection::run(std::string token) {
  lastReceived_ = Clock::now();
  asio::steady_timer deadline(executor_, config_.handshakeTimeout);
  auto first = co_await (handshake(token) || deadline.async_wait(kAwait));
  Status status = first.index() == 0
                      ? std::get<0>(first)
                      : Status{Code::Timeout, "no handshake within " + ms(config_.handshakeTimeout)};
  if (status.code != Code::Ok || closing_) {
    if (status.code == Code::Ok) status = closeReason_;
    teardown(status);
    co_return status;
  }
  decoder_.setLimits(FrameLimits{config_.maxFrame});
  handler_.onEstablished(shared_from_this());
  // Frames that arrived together with the handshake are handled before the first read.
  processFrames();
  dispatchEvents();
  kickWriter();
  auto ended = co_await (readLoop() || writeLoop() || housekeeping());
  status = std::visit([](auto& s) { return s; }, ended);
  teardown(status);
  co_return status;
}

asio::awaitable<Status> Connection::handshake(const std::string& token) {
  std::string out;
  Status error;
  if (role_ == Role::Client) {
    const std::string nonce = support::randomBytes(kNonceSize);
    encodeFrame(
        out, FrameType::Hello, 0,
        encode(Hello{kProtocolVersion, nonce, config_.maxFrame, config_.mux.streamWindow, config_.peerName}));
    auto [ec, n] = co_await stream_->writeAll(asio::buffer(out));
    if (ec) co_return Status{Code::TransportLost, "sending HELLO: " + ec.message()};
    auto frame = co_await readFirstFrame(error);
    if (!frame) co_return error;
    auto verdict = checkWelcome(*frame, token, nonce, config_.identity);
    if (verdict.status.code != Code::Ok) {
      if (frame->type == FrameType::Welcome) {
        // Tell the agent why (best effort), so its log names the reason too.
        out.clear();
        encodeFrame(out, FrameType::Goaway, 0, encode(verdict.status));
        co_await stream_->writeAll(asio::buffer(out));
      }
      co_return verdict.status;
    }
    peerName_ = verdict.welcome.peer;
    out.clear();
    encodeFrame(out, FrameType::Auth, 0,
                encode(Auth{clientProof(token, nonce, verdict.welcome.nonce, verdict.welcome.identity)}));
    auto [aec, an] = co_await stream_->writeAll(asio::buffer(out));
    if (aec) co_return Status{Code::TransportLost, "sending AUTH: " + aec.message()};
    mux_ = std::make_unique<Mux>(Role::Client, config_.mux,
                                 PeerParams{verdict.welcome.maxFrame, verdict.welcome.streamWindow});
    co_return Status{};
  }
  auto frame = co_await readFirstFrame(error);
  if (!frame) co_return error;
  auto verdict = checkHello(*frame);
  const std::string nonce = support::randomBytes(kNonceSize);
  Status status = verdict.status;
  if (status.code == Code::Ok) {
    encodeFrame(
        out, FrameType::Welcome, 0,
        encode(Welcome{kProtocolVersion, config_.maxFrame, config_.mux.streamWindow, config_.peerName, nonce,
                       config_.identity, agentProof(token, verdict.hello.nonce, nonce, config_.identity)}));
    auto [ec, n] = co_await stream_->writeAll(asio::buffer(out));
    if (ec) co_return Status{Code::TransportLost, "sending WELCOME: " + ec.message()};
    // Nothing but AUTH is read before the client proved it holds the token.
    auto second = co_await readFirstFrame(error);
    if (!second) co_return error;
    status = checkAuth(*second, token, verdict.hello.nonce, nonce, config_.identity);
    if (second->type == FrameType::Goaway) co_return status;  // the client refused us; it has closed
  }
  if (status.code != Code::Ok) {
    // The refusal is sent (best effort) so the client can report the real reason, then we close.
    out.clear();
    encodeFrame(out, FrameType::Goaway, 0, encode(status));
    co_await stream_->writeAll(asio::buffer(out));
    co_return status;
  }
  peerName_ = verdict.hello.peer;
  mux_ = std::make_unique<Mux>(Role::Agent, config_.mux,
                               PeerParams{verdict.hello.maxFrame, verdict.hello.streamWindow});
  co_return Status{};
}

asio::awaitable<std::optional<Frame>> Connection::readFirstFrame(Status& error) {
  for (;;) {
    if (auto r = decoder_.next()) {
      if (auto* frame = std::get_if<Frame>(&*r)) co_return std::move(*frame);
      error = Status{Code::ProtocolError, std::get<DecodeError>(*r).message};
      co_return std::nullopt;
    }
    char* space = decoder_.prepare(kReadSize);
    auto [ec, n] = co_await stream_->readSome(asio::buffer(space, kReadSize));
    decoder_.commit(ec ? 0 : n);
    if (ec) {
      error = Status{Code::TransportLost, ec == asio::error::eof
                                              ? "the peer closed the connection during the handshake"
                                              : "handshake read: " + ec.message()};
      co_return std::nullopt;
    }
    lastReceived_ = Clock::now();
  }
}

void Connection::processFrames() {
  while (auto r = decoder_.nextView()) {
    if (auto* frame = std::get_if<FrameView>(&*r)) {
      if (!deliverDirect(*frame)) mux_->receive(*frame);
      if (mux_->failure()) break;
    } else {
      const std::string why = std::get<DecodeError>(*r).message;
      spdlog::warn("event=tunnel_protocol_error peer={} error=\"{}\"", stream_->describe(), why);
      mux_->goaway(Status{Code::ProtocolError, why});
      close(Status{Code::ProtocolError, why});
      return;
    }
  }
  if (mux_->failure() && !closing_) {
    const std::string why = *mux_->failure();
    spdlog::warn("event=tunnel_protocol_error peer={} error=\"{}\"", stream_->describe(), why);
    mux_->goaway(Status{Code::ProtocolError, why});
    close(Status{Code::ProtocolError, why});
  }
}

bool Connection::deliverDirect(const FrameView& frame) {
  // DATA for a stream whose reader has nothing pending goes from the read buffer straight to its socket:
  // a copy fewer, and the pump need not wake. What the socket does not take now is buffered as usual.
  if (!mux_->canDeliverDirect(frame)) return false;
  auto it = waiters_.find(frame.id);
  if (it == waiters_.end() || !it->second.socket) return false;
  error_code ec;
  std::size_t n = it->second.socket->write_some(asio::buffer(frame.payload.data(), frame.payload.size()), ec);
  if (ec) n = 0;  // would block, or failed: the pump writes from the stream's buffer and sees the error
  mux_->receiveDelivered(frame, n);
  if (n > 0) it->second.lastActivity = Clock::now();
  return true;
}

asio::awaitable<Status> Connection::readLoop() {
  for (;;) {
    // The read lands in the decoder's own buffer: DATA then goes to its reader from there, or is copied
    // once, into its stream.
    char* space = decoder_.prepare(kReadSize);
    auto [ec, n] = co_await stream_->readSome(asio::buffer(space, kReadSize));
    if (ec) {
      decoder_.commit(0);
      co_return Status{Code::TransportLost, ec == asio::error::eof ? "the peer closed the tunnel"
                                                                   : "tunnel read: " + ec.message()};
    }
    lastReceived_ = Clock::now();
    if (closing_) continue;  // after a protocol error we only wait for the GOAWAY to be flushed
    decoder_.commit(n);
    processFrames();
    dispatchEvents();
    kickWriter();
  }
}

asio::awaitable<Status> Connection::writeLoop() {
  for (;;) {
    if (!mux_->hasOutput()) {
      if (closing_) co_return closeReason_;
      writerIdle_ = true;
      co_await writerWake_.async_wait(kAwait);
      writerIdle_ = false;
      continue;
    }
    mux_->takeOutput(writing_);
    dispatchEvents();  // streams that were blocked on a full output queue may send again
    writeStarted_ = Clock::now();
    auto [ec, n] = co_await stream_->writeAll(asio::buffer(writing_.data(), writing_.size()));
    writeStarted_.reset();
    if (ec) co_return Status{Code::TransportLost, "tunnel write: " + ec.message()};
    if (writing_.capacity() > 4u * 1024u * 1024u) writing_ = ByteBuffer();
  }
}

asio::awaitable<Status> Connection::housekeeping() {
  asio::steady_timer timer(executor_);
  for (;;) {
    timer.expires_after(config_.keepaliveInterval);
    co_await timer.async_wait(kAwait);
    const auto now = Clock::now();
    if (now - lastReceived_ > config_.keepaliveTimeout) {
      co_return Status{Code::TransportLost, "no frame from the peer for " + ms(config_.keepaliveTimeout)};
    }
    if (writeStarted_ && now - *writeStarted_ > config_.writeTimeout) {
      co_return Status{Code::TransportLost,
                       "a tunnel write made no progress for " + ms(config_.writeTimeout)};
    }
    // A peer heard from lately is alive, and so is our side to it (it is answering or pinging us): ping
    // only after three quarters of an interval of silence. The quarter's slack lets an end that does all
    // the pinging ping every tick (the PONG to its last PING arrived just after that tick), so it never
    // goes more than an interval and a round trip without a frame; an end that hears the peer's PINGs
    // does not add its own, and an idle tunnel carries about half the frames it did.
    if (now - lastReceived_ >= config_.keepaliveInterval * 3 / 4) {
      mux_->ping(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count()));
    }
    std::vector<std::uint32_t> idle;
    for (auto& [id, w] : waiters_) {
      if (now - w.lastActivity > config_.streamIdleTimeout) idle.push_back(id);
    }
    for (auto id : idle) mux_->reset(id, Code::Timeout, "stream idle for " + ms(config_.streamIdleTimeout));
    dispatchEvents();
    kickWriter();
  }
}

void Connection::dispatchEvents() {
  if (!mux_) return;
  auto self = shared_from_this();
  while (auto e = mux_->popEvent()) {
    using K = MuxEvent::Kind;
    switch (e->kind) {
      case K::Opened:
        waiters_[e->id].lastActivity = Clock::now();
        handler_.onOpen(self, e->id, e->open);
        break;
      case K::Accepted:
      case K::Readable:
      case K::Writable:
        wake(e->id, false);
        break;
      case K::Reset:
        wake(e->id, true);
        break;
      case K::DnsQuery:
        handler_.onDnsQuery(self, e->id, std::move(e->payload));
        break;
      case K::DnsReply:
      case K::ListenResult: {
        auto it = pending_.find(e->id);
        if (it != pending_.end()) {
          it->second.answer = std::move(*e);
          if (it->second.timer) it->second.timer->cancel();
        }
        break;
      }
      case K::Listen:
        handler_.onListen(self, e->id, e->port);
        break;
      case K::Unlisten:
        handler_.onUnlisten(self, e->port);
        break;
      case K::Pong: {
        const auto sent = std::chrono::microseconds(static_cast<std::int64_t>(e->value));
        const auto now =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch());
        if (now >= sent) rtt_ = now - sent;
        break;
      }
      case K::Goaway:
        handler_.onGoaway(self, e->status);
        break;
    }
  }
}

void Connection::wake(std::uint32_t id, bool cancelSocket) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  for (auto* timer : it->second.timers) timer->cancel();
  if (cancelSocket && it->second.socket) {
    error_code ec;
    it->second.socket->cancel(ec);
  }
}

void Connection::touch(std::uint32_t id) {
  auto it = waiters_.find(id);
  if (it != waiters_.end()) it->second.lastActivity = Clock::now();
}

void Connection::kickWriter() {
  if (writerIdle_) {
    writerIdle_ = false;
    writerWake_.cancel();
  }
}

asio::awaitable<bool> Connection::waitStream(std::uint32_t id, Clock::duration bound) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) co_return true;
  asio::steady_timer timer(executor_, bound);
  it->second.timers.push_back(&timer);
  auto [ec] = co_await timer.async_wait(kAwait);
  it = waiters_.find(id);
  if (it != waiters_.end()) std::erase(it->second.timers, &timer);
  co_return ec == asio::error::operation_aborted;
}

std::optional<std::uint32_t> Connection::openNow(const Open& target) {
  if (!mux_ || torn_ || closing_) return std::nullopt;
  auto id = mux_->open(target);
  if (id) {
    waiters_[*id].lastActivity = Clock::now();
    kickWriter();
  }
  return id;
}

asio::awaitable<std::pair<Status, std::uint32_t>> Connection::open(const Open& target) {
  auto self = shared_from_this();
  auto id = openNow(target);
  if (!id) {
    co_return std::pair{
        Status{torn_ || !mux_ ? Code::TransportLost : Code::ShuttingDown,
               torn_ || !mux_ ? "the tunnel is not connected" : "the tunnel refuses new streams"},
        0u};
  }
  const auto deadline = Clock::now() + config_.openTimeout;
  while (!mux_->isAccepted(*id) && !mux_->isReset(*id)) {
    const auto now = Clock::now();
    if (now >= deadline || !co_await waitStream(*id, deadline - now)) {
      if (mux_->isAccepted(*id) || mux_->isReset(*id)) break;
      mux_->reset(*id, Code::Timeout, "no answer to OPEN");
      release(*id);
      co_return std::pair{Status{Code::Timeout, "no answer to OPEN within " + ms(config_.openTimeout)}, 0u};
    }
  }
  if (mux_->isReset(*id)) {
    Status status = mux_->resetStatus(*id);
    release(*id);
    co_return std::pair{status, 0u};
  }
  co_return std::pair{Status{}, *id};
}

void Connection::accept(std::uint32_t id) {
  if (!mux_) return;
  mux_->accept(id);
  kickWriter();
}

std::size_t Connection::sendNow(std::uint32_t id, std::string_view bytes) {
  if (!mux_) return 0;
  std::size_t taken = 0;
  while (taken < bytes.size()) {
    const std::size_t n = mux_->send(id, bytes.substr(taken));
    if (n == 0) break;
    taken += n;
  }
  kickWriter();
  return taken;
}

void Connection::reset(std::uint32_t id, Code code, std::string_view message) {
  if (!mux_) return;
  mux_->reset(id, code, message);
  dispatchEvents();
  kickWriter();
}

void Connection::release(std::uint32_t id) {
  if (!mux_) return;
  mux_->release(id);
  waiters_.erase(id);
  kickWriter();
  if (mux_->streamCount() == 0) drainWake_.cancel();
}

asio::awaitable<std::optional<MuxEvent>> Connection::waitAnswer(std::uint32_t requestId) {
  asio::steady_timer timer(executor_, config_.requestTimeout);
  pending_[requestId].timer = &timer;
  co_await timer.async_wait(kAwait);
  auto node = pending_.extract(requestId);
  if (node.empty()) co_return std::nullopt;
  co_return std::move(node.mapped().answer);
}

asio::awaitable<DnsReply> Connection::dns(std::string query) {
  auto self = shared_from_this();
  if (!mux_ || torn_) co_return DnsReply{Code::TransportLost, "the tunnel is not connected", ""};
  const auto id = mux_->dnsQuery(query);
  kickWriter();
  auto answer = co_await waitAnswer(id);
  // No class-type temporaries in a conditional expression in a coroutine (GCC 12 destroys them twice).
  if (!answer && torn_)
    co_return DnsReply{Code::TransportLost, "the tunnel closed before the DNS answer", ""};
  if (!answer) co_return DnsReply{Code::Timeout, "no DNS answer within " + ms(config_.requestTimeout), ""};
  co_return DnsReply{answer->status.code, answer->status.message, std::move(answer->payload)};
}

asio::awaitable<ListenResult> Connection::listen(std::uint16_t port) {
  auto self = shared_from_this();
  if (!mux_ || torn_) co_return ListenResult{Code::TransportLost, port, "the tunnel is not connected"};
  const auto id = mux_->listen(port);
  kickWriter();
  auto answer = co_await waitAnswer(id);
  if (!answer) {
    co_return torn_
        ? ListenResult{Code::TransportLost, port, "the tunnel closed before the LISTEN answer"}
        : ListenResult{Code::Timeout, port, "no LISTEN answer within " + ms(config_.requestTimeout)};
  }
  co_return ListenResult{answer->status.code, answer->port, answer->status.message};
}

void Connection::unlisten(std::uint16_t port) {
  if (!mux_ || torn_) return;
  mux_->unlisten(port);
  kickWriter();
}

void Connection::replyDns(std::uint32_t requestId, const DnsReply& reply) {
  if (!mux_ || torn_) return;
  mux_->dnsReply(requestId, reply);
  kickWriter();
}

void Connection::replyListen(std::uint32_t requestId, const ListenResult& result) {
  if (!mux_ || torn_) return;
  mux_->listenResult(requestId, result);
  kickWriter();
}

asio::awaitable<void> Connection::drainAndClose(Code code, std::string message) {
  auto self = shared_from_this();
  const Status status{code, std::move(message)};
  if (!mux_ || torn_) {
    close(status);
    co_return;
  }
  mux_->goaway(status);
  kickWriter();
  const auto deadline = Clock::now() + config_.drainTimeout;
  while (mux_->streamCount() > 0 && Clock::now() < deadline && !torn_) {
    drainWake_.expires_at(deadline);
    co_await drainWake_.async_wait(kAwait);
  }
  std::vector<std::uint32_t> left;
  for (auto& [id, w] : waiters_) left.push_back(id);
  for (auto id : left) reset(id, Code::ShuttingDown, "the drain bound was reached");
  close(status);
}

void Connection::close(Status reason) {
  if (closing_) return;
  closing_ = true;
  closeReason_ = std::move(reason);
  if (!mux_ || torn_) {
    stream_->close();
    return;
  }
  kickWriter();
}

void Connection::teardown(const Status& status) {
  if (torn_) return;
  torn_ = true;
  if (mux_) {
    mux_->failAll(status);
    dispatchEvents();
  }
  for (auto& [id, p] : pending_) {
    if (p.timer) p.timer->cancel();
  }
  writerWake_.cancel();
  drainWake_.cancel();
  stream_->close();
}

}  // namespace tether::tunnel
