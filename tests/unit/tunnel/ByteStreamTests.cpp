// ByteStreamTests.cpp - the TCP transport of the tunnel over a real loopback connection: writeAll hands
// over every byte in order however the socket splits the writes, and reports failure with a count.
#include <catch2/catch.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

#include "protocol/tunnel/asio/ByteStream.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using tether::tunnel::ByteStream;
using tether::tunnel::TcpByteStream;

struct LoopbackPair {
  asio::io_context io;
  tcp::socket writer{io};
  tcp::socket reader{io};

  LoopbackPair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    writer.connect(acceptor.local_endpoint());
    reader = acceptor.accept();
    // Small buffers force the kernel to take a large write in many parts.
    writer.set_option(asio::socket_base::send_buffer_size(16 * 1024));
    reader.set_option(asio::socket_base::receive_buffer_size(16 * 1024));
  }
};

std::string pattern(std::size_t n) {
  std::string bytes(n, '\0');
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 131u + i / 4096u) & 0xff);
  return bytes;
}

// Runs writeAll(bytes) on the io_context; `done` says it returned, `result` what it returned.
void startWriteAll(asio::io_context& io, TcpByteStream& stream, const std::string& bytes,
                   ByteStream::Result& result, bool& done) {
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result = co_await stream.writeAll(asio::buffer(bytes));
        done = true;
      },
      asio::detached);
}

// Reads in 4 KiB pieces (slower than the writer) until `limit` bytes, EOF or an error, then calls `then`.
void startReader(asio::io_context& io, tcp::socket& socket, std::size_t limit, std::string& received,
                 std::function<void()> then) {
  asio::co_spawn(
      io,
      [&socket, limit, &received, then = std::move(then)]() -> asio::awaitable<void> {
        char chunk[4096];
        while (received.size() < limit) {
          auto [ec, n] =
              co_await socket.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
          received.append(chunk, n);
          if (ec) break;
        }
        then();
      },
      asio::detached);
}

}  // namespace

TEST_CASE("tcp transport: writeAll hands over every byte in order when the socket takes them in parts",
          "[tunnel]") {
  LoopbackPair pair;
  const std::string sent = pattern(3u * 1024u * 1024u + 17u);
  std::string received;
  bool readerDone = false;
  bool writerDone = false;
  ByteStream::Result result{};
  TcpByteStream stream(std::move(pair.writer));

  startWriteAll(pair.io, stream, sent, result, writerDone);
  startReader(pair.io, pair.reader, sent.size(), received, [&] { readerDone = true; });
  pair.io.run_for(std::chrono::seconds(20));

  REQUIRE(writerDone);
  REQUIRE(readerDone);
  CHECK_FALSE(std::get<0>(result));
  CHECK(std::get<1>(result) == sent.size());
  CHECK(received.size() == sent.size());
  CHECK(received == sent);
}

TEST_CASE("tcp transport: writeAll reports the error and the bytes written when the peer goes away",
          "[tunnel]") {
  LoopbackPair pair;
  const std::string sent = pattern(16u * 1024u * 1024u);
  std::string received;
  bool writerDone = false;
  ByteStream::Result result{};
  TcpByteStream stream(std::move(pair.writer));

  startWriteAll(pair.io, stream, sent, result, writerDone);
  startReader(pair.io, pair.reader, 64u * 1024u, received, [&] {
    // An abortive close: the writer's next send fails instead of filling buffers nobody reads.
    pair.reader.set_option(asio::socket_base::linger(true, 0));
    pair.reader.close();
  });
  pair.io.run_for(std::chrono::seconds(20));

  REQUIRE(writerDone);
  CHECK(std::get<0>(result));
  CHECK(std::get<1>(result) >= received.size());
  CHECK(std::get<1>(result) < sent.size());
}
