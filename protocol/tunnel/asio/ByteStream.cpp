// ByteStream.cpp - the TCP implementation of the tunnel's transport.
#include "protocol/tunnel/asio/ByteStream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tether::tunnel {

namespace asio = boost::asio;

TcpByteStream::TcpByteStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  description_ =
      ec ? "tcp (unconnected)" : "tcp " + remote.address().to_string() + ":" + std::to_string(remote.port());
  // Frames are small and latency matters more than segment count; the writer batches on its own.
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

asio::awaitable<ByteStream::Result> TcpByteStream::readSome(asio::mutable_buffer buffer) {
  co_return co_await socket_.async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<ByteStream::Result> TcpByteStream::writeAll(asio::const_buffer buffer) {
  // Not asio::async_write: it hands the socket at most 64 KiB per send, so a 256 KiB frame became five
  // sends (the fifth a 10-byte tail), each running the peer's TCP receive path and waking it. One send
  // of everything the socket takes, and again for what is left, is a fraction of that work.
  std::size_t written = 0;
  while (buffer.size() > 0) {
    auto [ec, n] = co_await socket_.async_write_some(buffer, asio::as_tuple(asio::use_awaitable));
    written += n;
    buffer += n;
    if (ec) co_return Result{ec, written};
  }
  co_return Result{boost::system::error_code{}, written};
}

void TcpByteStream::close() {
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace tether::tunnel
