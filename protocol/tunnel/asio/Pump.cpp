// Pump.cpp - moves bytes between a local TCP socket and one tunnel stream.
//
// The socket runs in non-blocking mode and the pump waits for readiness (unless its last read filled the
// space, when it reads again at once) rather than posting reads with buffers of its own: received bytes are
// written straight from the mux's stream buffer, and reads land directly in a DATA frame in the mux's output
// queue (prepareSend), sized to the credit the stream has. So an idle stream owns no buffer at all, which is
// what keeps a thousand open streams within a few megabytes, and a byte read from a local socket is never
// copied before the tunnel write.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/tunnel/asio/Connection.hpp"

namespace tether::tunnel {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// Largest single read from a local socket; the credit and the peer's max frame usually bound it first.
constexpr std::size_t kPumpRead = 256u * 1024u;

bool wouldBlock(const error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

}  // namespace

asio::awaitable<void> Connection::pump(std::uint32_t id, tcp::socket socket) {
  auto self = shared_from_this();
  error_code ec;
  if (!mux_ || !mux_->exists(id)) {
    socket.close(ec);
    co_return;
  }
  socket.non_blocking(true, ec);
  socket.set_option(tcp::no_delay(true), ec);
  waiters_[id].socket = &socket;
  touch(id);
  co_await (pumpUp(id, socket) && pumpDown(id, socket));
  if (auto it = waiters_.find(id); it != waiters_.end()) it->second.socket = nullptr;
  if (mux_->isReset(id)) {
    // An RST tells the local peer the stream failed; a plain close would look like a complete answer.
    socket.set_option(asio::socket_base::linger(true, 0), ec);
  }
  socket.close(ec);
  release(id);
}

asio::awaitable<void> Connection::pumpUp(std::uint32_t id, tcp::socket& socket) {
  // After a read that filled all the space it was given, the socket most likely holds more, so the next
  // read is tried straight away. Waiting for readiness instead costs an epoll_ctl and an epoll_wait per
  // read, which during a bulk transfer is a third of this side's system calls.
  bool probablyMore = false;
  for (;;) {
    if (mux_->isReset(id)) co_return;
    if (mux_->sendRoom(id) == 0) {
      co_await waitStream(id, config_.streamIdleTimeout);
      continue;
    }
    if (probablyMore) {
      // Yield before reading more, as a readiness wait would have: the writer, woken by kickWriter(), and
      // the other streams run first.
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    } else {
      auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, kAwait);
      if (wec) {
        if (mux_->isReset(id)) co_return;
        reset(id, Code::Cancelled, "local connection: " + wec.message());
        co_return;
      }
    }
    if (mux_->isReset(id)) co_return;
    // Nothing may touch the mux between prepareSend and commitSend: the read below does not suspend.
    const std::span<char> space = mux_->prepareSend(id, kPumpRead);
    if (space.empty()) continue;
    error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(space.data(), space.size()), ec);
    mux_->commitSend(id, ec ? 0 : n);
    probablyMore = !ec && n == space.size();
    if (wouldBlock(ec)) continue;
    if (ec == asio::error::eof) {
      mux_->finish(id);
      kickWriter();
      co_return;
    }
    if (ec) {
      reset(id, Code::Cancelled, "local connection: " + ec.message());
      co_return;
    }
    touch(id);
    kickWriter();
  }
}

asio::awaitable<void> Connection::pumpDown(std::uint32_t id, tcp::socket& socket) {
  for (;;) {
    if (mux_->isReset(id)) co_return;
    const std::string_view pending = mux_->peek(id);
    if (!pending.empty()) {
      error_code ec;
      const std::size_t n = socket.write_some(asio::buffer(pending.data(), pending.size()), ec);
      if (wouldBlock(ec)) {
        auto [wec] = co_await socket.async_wait(tcp::socket::wait_write, kAwait);
        if (mux_->isReset(id)) co_return;
        if (wec) {
          reset(id, Code::Cancelled, "local connection: " + wec.message());
          co_return;
        }
        continue;
      }
      if (ec) {
        reset(id, Code::Cancelled, "local connection: " + ec.message());
        co_return;
      }
      mux_->consume(id, n);
      touch(id);
      kickWriter();
      continue;
    }
    if (mux_->remoteFinished(id)) {
      error_code ec;
      socket.shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    co_await waitStream(id, config_.streamIdleTimeout);
  }
}

}  // namespace tether::tunnel
