// ByteStream.hpp - the one thing the tunnel needs from its transport: an ordered, reliable byte stream.
//
// The tunnel must not know Kubernetes: the session layer hands it a port-forward stream from the kube
// client, tests and benchmarks hand it a TCP socket. Both implement this interface. Operations report
// expected failures (EOF, reset, cancellation) as error codes, and support per-operation cancellation
// (the driver runs its read loop under `||` with a watchdog).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string>
#include <tuple>

namespace tether::tunnel {

class ByteStream {
 public:
  using Result = std::tuple<boost::system::error_code, std::size_t>;
  virtual ~ByteStream() = default;
  virtual boost::asio::awaitable<Result> readSome(boost::asio::mutable_buffer buffer) = 0;
  // Writes every byte or fails.
  virtual boost::asio::awaitable<Result> writeAll(boost::asio::const_buffer buffer) = 0;
  // Idempotent; pending operations complete with an error.
  virtual void close() = 0;
  // For logs: "tcp 127.0.0.1:7000", "port-forward ns/pod:7000".
  virtual std::string describe() const = 0;
};

class TcpByteStream final : public ByteStream {
 public:
  explicit TcpByteStream(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<Result> readSome(boost::asio::mutable_buffer buffer) override;
  boost::asio::awaitable<Result> writeAll(boost::asio::const_buffer buffer) override;
  void close() override;
  std::string describe() const override { return description_; }

 private:
  boost::asio::ip::tcp::socket socket_;
  std::string description_;
};

}  // namespace tether::tunnel
