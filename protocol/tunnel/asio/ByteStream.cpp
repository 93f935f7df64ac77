// ByteStream.cpp - the TCP implementation of the tunnel's transport.
#include "protocol/tunnel/asio/ByteStream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tether::tunnel {

namespace asio = boost::asio;

TcpByteStream::TcpByteStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  description_ = ec ? "tcp (unconnected)" : "tcp " + remote.address().to_string() + ":" + std::to_string(remote.port());
  // Frames are small and latency matters more than segment count; the writer batches on its own.
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

asio::awaitable<ByteStream::Result> TcpByteStream::readSome(asio::mutable_buffer buffer) {
  co_return co_await socket_.async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<ByteStream::Result> TcpByteStream::writeAll(asio::const_buffer buffer) {
  co_return co_await asio::async_write(socket_, buffer, asio::as_tuple(asio::use_awaitable));
}

void TcpByteStream::close() {
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace tether::tunnel
