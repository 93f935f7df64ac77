// StreamIo.cpp - reading and writing one stream from a coroutine, for callers that parse what flows
// through it (the HTTP proxy) rather than pump it to a socket. The bytes are copied out of the stream's
// buffer: a caller that suspends while holding them must not hold a view into the mux.
#include "protocol/tunnel/asio/Connection.hpp"

namespace tether::tunnel {

namespace asio = boost::asio;

asio::awaitable<Connection::ReadResult> Connection::readSome(std::uint32_t id, std::string& out,
                                                             std::size_t max) {
  auto self = shared_from_this();
  for (;;) {
    if (!mux_ || !mux_->exists(id))
      co_return ReadResult{0, false, Status{Code::TransportLost, "the tunnel closed"}};
    if (mux_->isReset(id)) co_return ReadResult{0, false, mux_->resetStatus(id)};
    const std::string_view pending = mux_->peek(id);
    if (!pending.empty()) {
      const std::size_t n = std::min(pending.size(), max);
      out.append(pending.data(), n);
      mux_->consume(id, n);
      touch(id);
      kickWriter();
      co_return ReadResult{n, false, std::nullopt};
    }
    if (mux_->remoteFinished(id)) co_return ReadResult{0, true, std::nullopt};
    if (!co_await waitStream(id, config_.streamIdleTimeout) && mux_ && mux_->exists(id) &&
        mux_->peek(id).empty() && !mux_->remoteFinished(id) && !mux_->isReset(id)) {
      co_return ReadResult{
          0, false,
          Status{Code::Timeout,
                 "no data within " + std::to_string(config_.streamIdleTimeout.count()) + " ms"}};
    }
  }
}

asio::awaitable<Status> Connection::writeAll(std::uint32_t id, std::string_view bytes) {
  auto self = shared_from_this();
  while (!bytes.empty()) {
    if (!mux_ || !mux_->exists(id)) co_return Status{Code::TransportLost, "the tunnel closed"};
    if (mux_->isReset(id)) co_return mux_->resetStatus(id);
    const std::size_t n = mux_->send(id, bytes);
    if (n > 0) {
      bytes.remove_prefix(n);
      touch(id);
      kickWriter();
      continue;
    }
    if (!co_await waitStream(id, config_.streamIdleTimeout) && mux_ && mux_->exists(id) &&
        !mux_->isReset(id) && mux_->sendRoom(id) == 0) {
      co_return Status{Code::Timeout,
                       "no credit within " + std::to_string(config_.streamIdleTimeout.count()) + " ms"};
    }
  }
  co_return Status{};
}

void Connection::finish(std::uint32_t id) {
  if (!mux_) return;
  mux_->finish(id);
  kickWriter();
}

bool Connection::idleAndOpen(std::uint32_t id) const {
  return mux_ && !torn_ && !closing_ && mux_->exists(id) && !mux_->isReset(id) && mux_->peek(id).empty() &&
         !mux_->remoteFinished(id) && !mux_->goawayReceived();
}

}  // namespace tether::tunnel
