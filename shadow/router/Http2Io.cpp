// Http2Io.cpp - the two loops around one nghttp2 session.
#include "shadow/router/Http2Io.hpp"

#include "shadow/router/SharedRead.hpp"

#include <nghttp2/nghttp2.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tether::shadow::router {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kWriteBatch = 64u * 1024u;

}  // namespace

Http2Io::Http2Io(tcp::socket socket, nghttp2_session* session, std::vector<char>& scratch)
    : socket_(std::move(socket)), session_(session), scratch_(scratch), wake_(socket_.get_executor()) {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);
  wake_.expires_at(asio::steady_timer::time_point::max());
}

Http2Io::~Http2Io() {
  nghttp2_session_del(session_);
}

bool Http2Io::feed(const char* data, std::size_t size) {
  const auto used = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(data), size);
  if (used < 0) {
    // A peer that broke the protocol: nghttp2 has queued GOAWAY where it can; say why, send it, and end.
    failure_ = nghttp2_strerror(static_cast<int>(used));
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    wantWrite();
    return false;
  }
  wantWrite();
  return true;
}

asio::awaitable<void> Http2Io::readLoop(std::string already) {
  if (!already.empty() && !feed(already.data(), already.size())) co_return;
  while (!closed_) {
    const std::size_t n = co_await readIntoScratch(socket_, scratch_);
    if (n == 0) break;  // EOF or reset: the session is over
    // The callbacks run inside feed() and may touch other sessions; this one's bytes are copied by nghttp2
    // or handed to the callbacks at once, so the shared buffer is free again when feed() returns.
    if (!feed(scratch_.data(), n)) co_return;
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) break;
  }
  close();
}

asio::awaitable<void> Http2Io::writeLoop() {
  std::string out;
  while (!closed_) {
    out.clear();
    while (out.size() < kWriteBatch) {
      const std::uint8_t* data = nullptr;
      const auto n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        failure_ = nghttp2_strerror(static_cast<int>(n));
        close();
        co_return;
      }
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    if (!out.empty()) {
      auto [ec, written] = co_await asio::async_write(socket_, asio::buffer(out), kAwait);
      if (ec) break;
      continue;
    }
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) break;
    if (!kicked_) co_await wake_.async_wait(kAwait);
    kicked_ = false;
  }
  close();
}

void Http2Io::wantWrite() {
  kicked_ = true;
  wake_.cancel();
}

void Http2Io::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  wake_.cancel();
}

}  // namespace tether::shadow::router
