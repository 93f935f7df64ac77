// PortForwardSession.cpp - the Asio driver of spdy::PortForwardMux on one WebSocket: a read loop feeds
// the server's bytes to the mux and hands events to the streams, a write loop sends what the mux queued.
// Everything runs on the session's executor, so no state here needs a lock.
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstring>
#include <unordered_map>

#include "server/kube/PortForward.hpp"
#include "server/kube/PortForwardDial.hpp"
#include "server/kube/PortForwardStreamImpl.hpp"
#include "server/kube/spdy/PortForwardMux.hpp"

namespace tether::kube {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::use_awaitable;

namespace {

constexpr auto kAwait = asio::as_tuple(use_awaitable);
constexpr const char* kSpdyOverWebSocket = "SPDY/3.1+portforward.k8s.io";

// Newer kubelets write `{"closeConnection":bool,"message":"..."}` on the error stream, older ones plain
// text (k8s-api-notes.md §8.2); the user needs the message either way.
std::string errorMessage(const std::string& text) {
  const auto key = text.find("\"message\":\"");
  if (text.empty() || text.front() != '{' || key == std::string::npos) return text;
  std::string message;
  for (std::size_t i = key + 11; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) ++i;
    message += text[i];
  }
  return message;
}

// A waiter is a timer that never expires on its own (see `never`); waking it is cancelling it, which
// wakes everyone waiting on it to check their condition again. Setting the expiry would cancel the other
// waiters, so it is set once, at construction. Every wait here ends when its condition changes or when
// the connection is lost, and the WebSocket's keepalive bounds how long a dead connection goes unnoticed.
asio::steady_timer never(const asio::any_io_executor& executor) {
  return asio::steady_timer(executor, asio::steady_timer::time_point::max());
}

asio::awaitable<void> waitOn(asio::steady_timer& timer) {
  co_await timer.async_wait(kAwait);
}

}  // namespace

struct PortForwardSession::Core : std::enable_shared_from_this<PortForwardSession::Core> {
  struct Connection {
    std::string inbound;
    std::size_t offset = 0;
    bool ended = false;
    std::optional<std::string> error;
    asio::steady_timer* reader = nullptr;
  };

  Core(asio::any_io_executor on, detail::DialedWebSocket connection, std::string what,
       PortForwardConfig limits)
      : executor(on),
        dialed(std::move(connection)),
        ws(*dialed.ws),
        description(std::move(what)),
        config(limits),
        writerWake(never(on)),
        readerResume(never(on)),
        drained(never(on)) {}

  asio::any_io_executor executor;
  detail::DialedWebSocket dialed;
  detail::TlsWebSocket& ws;
  std::string description;
  PortForwardConfig config;
  spdy::PortForwardMux mux;
  std::unordered_map<std::uint32_t, Connection> connections;
  std::size_t buffered = 0;  // unread bytes across connections
  std::size_t writing = 0;   // bytes in the WebSocket write under way
  asio::steady_timer writerWake;
  asio::steady_timer readerResume;
  asio::steady_timer drained;
  std::unordered_map<std::uint32_t, std::shared_ptr<asio::steady_timer>> abandoned;
  std::optional<std::string> lost;
  int users = 0;
  bool closing = false;

  void start() {
    auto self = shared_from_this();
    asio::co_spawn(
        executor, [self]() { return self->readLoop(); }, asio::detached);
    asio::co_spawn(
        executor, [self]() { return self->writeLoop(); }, asio::detached);
  }

  void wake(Connection& c) {
    if (c.reader) c.reader->cancel();
  }

  void kickWriter() { writerWake.cancel(); }

  void lose(std::string reason) {
    if (lost) return;
    lost = std::move(reason);
    for (auto& [id, c] : connections) wake(c);
    for (auto& [id, deadline] : abandoned) deadline->cancel();  // they settle, and give up their use
    readerResume.cancel();
    drained.cancel();
    kickWriter();
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
  }

  void release() {
    if (--users > 0 || closing) return;
    // Nobody can open or read another stream: say goodbye to the server and let the loops end.
    closing = true;
    auto self = shared_from_this();
    asio::co_spawn(
        executor,
        [self]() -> asio::awaitable<void> {
          if (!self->lost) {
            auto [ec] = co_await self->ws.async_close(websocket::close_code::normal, kAwait);
            (void)ec;  // a connection the server already dropped is closed too
          }
          self->lose("the port-forward session was closed");
        },
        asio::detached);
  }

  // A connection closed by its stream: our side is finished (FIN sent); the server gets up to
  // `idleTimeout` to finish its side before both streams are reset. It keeps the session open meanwhile.
  void abandon(std::uint32_t id) {
    ++users;
    auto deadline = std::make_shared<asio::steady_timer>(executor, config.idleTimeout);
    abandoned.emplace(id, deadline);
    asio::co_spawn(
        executor,
        [self = shared_from_this(), id, deadline]() -> asio::awaitable<void> {
          co_await deadline->async_wait(kAwait);
          self->settle(id);
        },
        asio::detached);
  }

  // The abandoned connection `id` is done (the server finished it, or its time is up).
  void settle(std::uint32_t id) {
    auto it = abandoned.find(id);
    if (it == abandoned.end()) return;
    it->second->cancel();
    abandoned.erase(it);
    mux.release(id);  // resets the streams unless both sides finished
    if (mux.hasOutput()) kickWriter();
    release();
  }

  void dispatch() {
    while (auto event = mux.popEvent()) {
      auto it = connections.find(event->connection);
      if (it == connections.end()) {
        // Bytes for an abandoned connection are dropped; its end settles it.
        if (event->kind != spdy::PortForwardEvent::Kind::Data && abandoned.count(event->connection)) {
          settle(event->connection);
        }
        continue;
      }
      auto& c = it->second;
      using Kind = spdy::PortForwardEvent::Kind;
      switch (event->kind) {
        case Kind::Data:
          buffered += event->text.size();
          c.inbound += event->text;
          break;
        case Kind::End:
          c.ended = true;
          break;
        case Kind::Error:
          c.error = errorMessage(event->text);
          break;
        case Kind::Reset:
          c.error = event->text;
          break;
        case Kind::Pong:
          break;
      }
      wake(c);
    }
  }

  asio::awaitable<void> readLoop() {
    beast::flat_buffer incoming;
    while (!lost) {
      if (buffered >= config.sharedReadLimit) {
        co_await waitOn(readerResume);
        continue;
      }
      incoming.clear();
      auto [ec, n] = co_await ws.async_read(incoming, kAwait);
      if (ec) {
        lose(ec == websocket::error::closed ? "the API server closed the port-forward connection"
                                            : "port-forward connection lost: " + ec.message());
        co_return;
      }
      const auto piece = incoming.data();  // a flat_buffer holds one contiguous range
      mux.receive(std::string_view(static_cast<const char*>(piece.data()), piece.size()));
      dispatch();
      if (mux.failure()) {
        spdlog::warn("{}: {}", description, *mux.failure());
        lose(*mux.failure());
        co_return;
      }
      if (mux.hasOutput()) kickWriter();
    }
  }

  asio::awaitable<void> writeLoop() {
    std::string out;
    ws.binary(true);
    while (!lost) {
      if (!mux.hasOutput()) {
        co_await waitOn(writerWake);
        continue;
      }
      mux.takeOutput(out);
      writing = out.size();
      auto [ec, n] = co_await ws.async_write(asio::buffer(out), kAwait);
      writing = 0;
      drained.cancel();
      if (ec) {
        lose("port-forward connection lost while sending: " + ec.message());
        co_return;
      }
    }
  }

  void throwIfLost(const std::string& what) const {
    if (lost) throw PortForwardError(what + ": " + *lost);
  }
};

namespace {

class SharedStream final : public PortForwardStream::Impl {
 public:
  SharedStream(std::shared_ptr<PortForwardSession::Core> core, std::uint32_t id, std::string what)
      : Impl(std::move(what)), core_(std::move(core)), id_(id), waiter_(never(core_->executor)) {
    ++core_->users;
  }
  ~SharedStream() override {
    forget();
    core_->release();
  }

  asio::awaitable<std::size_t> readSome(asio::mutable_buffer buffer) override {
    for (;;) {
      auto* c = connection();
      if (c == nullptr) co_return 0;
      if (c->offset < c->inbound.size()) {
        const auto n = std::min(buffer.size(), c->inbound.size() - c->offset);
        std::memcpy(buffer.data(), c->inbound.data() + c->offset, n);
        c->offset += n;
        if (c->offset == c->inbound.size()) {
          c->inbound.clear();
          c->offset = 0;
        }
        consumed(n);
        co_return n;
      }
      if (c->error) throw PortForwardError(description + ": " + *c->error);
      if (c->ended) co_return 0;
      core_->throwIfLost(description);
      c->reader = &waiter_;
      co_await waitOn(waiter_);
      if (auto* again = connection()) again->reader = nullptr;
    }
  }

  asio::awaitable<void> write(asio::const_buffer data) override {
    auto& core = *core_;
    core.throwIfLost(description);
    if (auto* c = connection(); c && c->error) throw PortForwardError(description + ": " + *c->error);
    if (!core.mux.send(id_, std::string_view(static_cast<const char*>(data.data()), data.size()))) {
      throw PortForwardError(description + ": the connection is closed for sending");
    }
    core.kickWriter();
    // Back-pressure: a writer waits while the connection has more queued than it may hold.
    while (!core.lost && core.mux.outputSize() + core.writing > core.config.sharedWriteLimit) {
      co_await waitOn(core.drained);
    }
    core.throwIfLost(description);
  }

  // Half-closes, as kubectl does: the pod reads EOF after every byte already written, and the server
  // finishes its side when the pod closes; what the pod still sends is dropped.
  asio::awaitable<void> close() override {
    auto it = core_->connections.find(id_);
    if (it == core_->connections.end() || core_->lost || it->second.error || it->second.ended) {
      forget();
      co_return;
    }
    consumed(it->second.inbound.size() - it->second.offset);
    core_->connections.erase(it);
    core_->mux.finish(id_);
    core_->kickWriter();
    core_->abandon(id_);
    co_return;
  }

  void abort() override {
    if (connection() != nullptr && !core_->lost) core_->mux.reset(id_);
    forget();
  }

 private:
  PortForwardSession::Core::Connection* connection() {
    auto it = core_->connections.find(id_);
    return it == core_->connections.end() ? nullptr : &it->second;
  }

  void consumed(std::size_t n) {
    auto& core = *core_;
    const bool wasPaused = core.buffered >= core.config.sharedReadLimit;
    core.buffered -= n;
    if (wasPaused && core.buffered < core.config.sharedReadLimit) core.readerResume.cancel();
  }

  // Drops this stream's state; the mux resets the streams if the server may still send on them.
  void forget() {
    auto it = core_->connections.find(id_);
    if (it == core_->connections.end()) return;
    consumed(it->second.inbound.size() - it->second.offset);
    core_->connections.erase(it);
    core_->mux.release(id_);
    if (core_->mux.hasOutput()) core_->kickWriter();
  }

  std::shared_ptr<PortForwardSession::Core> core_;
  std::uint32_t id_;
  asio::steady_timer waiter_;
};

}  // namespace

PortForwardSession::PortForwardSession(Client& client, std::string namespaceName, std::string pod,
                                       PortForwardConfig config, std::shared_ptr<Core> core)
    : client_(client),
      namespaceName_(std::move(namespaceName)),
      pod_(std::move(pod)),
      config_(config),
      core_(std::move(core)) {
  if (core_) ++core_->users;
}

PortForwardSession::~PortForwardSession() {
  if (core_) core_->release();
}

std::string PortForwardSession::lostReason() const {
  return core_ && core_->lost ? *core_->lost : std::string();
}

asio::awaitable<std::unique_ptr<PortForwardStream>> PortForwardSession::connect(std::uint16_t port) {
  if (!core_) co_return co_await openPortForward(client_, namespaceName_, pod_, port, config_);
  const auto what = "port-forward to pod " + namespaceName_ + "/" + pod_ + " port " + std::to_string(port);
  core_->throwIfLost(what);
  const auto id = core_->mux.open(port);
  if (!id) throw PortForwardError(what + ": the API server accepts no new connections on this session");
  core_->connections[*id];
  core_->kickWriter();
  co_return std::make_unique<PortForwardStream>(std::make_unique<SharedStream>(core_, *id, what));
}

asio::awaitable<std::unique_ptr<PortForwardSession>> openPortForwardSession(Client& client,
                                                                            std::string namespaceName,
                                                                            std::string pod,
                                                                            PortForwardConfig config) {
  detail::DialRequest request;
  request.what = "port-forward to pod " + namespaceName + "/" + pod;
  request.namespaceName = namespaceName;
  request.pod = pod;
  request.subprotocol = kSpdyOverWebSocket;
  request.requireSubprotocol = true;
  std::shared_ptr<PortForwardSession::Core> core;
  try {
    auto dialed = co_await detail::dialPortForward(client, request, config);
    core = std::make_shared<PortForwardSession::Core>(co_await asio::this_coro::executor, std::move(dialed),
                                                      request.what, config);
  } catch (const detail::SubprotocolRefused& refused) {
    spdlog::info("{}; using one WebSocket per connection", refused.what());
  }
  if (core) core->start();
  co_return std::make_unique<PortForwardSession>(client, std::move(namespaceName), std::move(pod), config,
                                                 std::move(core));
}

}  // namespace tether::kube
