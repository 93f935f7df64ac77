// Socks5Proxy.cpp - greeting, CONNECT request, reply, then the stream pump.
#include "server/tunnel/Socks5Proxy.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/LocalListen.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using tunnel::Code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::uint8_t kVersion = 5;

asio::awaitable<bool> readExact(tcp::socket& socket, void* data, std::size_t n) {
  auto [ec, got] = co_await asio::async_read(socket, asio::buffer(data, n), kAwait);
  co_return !ec && got == n;
}

asio::awaitable<void> reply(tcp::socket& socket, std::uint8_t code) {
  const std::array<std::uint8_t, 10> bytes{kVersion, code, 0, 1, 0, 0, 0, 0, 0, 0};
  co_await asio::async_write(socket, asio::buffer(bytes), kAwait);
}

}  // namespace

std::uint8_t socksReplyFor(Code code) {
  switch (code) {
    case Code::Ok:
      return 0x00;
    case Code::Refused:
      return 0x05;  // connection refused
    case Code::DnsFailure:
      return 0x04;  // host unreachable
    case Code::Unreachable:
      return 0x04;
    case Code::Timeout:
      return 0x04;
    default:
      return 0x01;  // general failure
  }
}

asio::awaitable<bool> Socks5Proxy::negotiate(tcp::socket& socket) {
  std::array<std::uint8_t, 2> greeting{};
  if (!co_await readExact(socket, greeting.data(), 2) || greeting[0] != kVersion) co_return false;
  std::array<std::uint8_t, 255> methods{};
  if (!co_await readExact(socket, methods.data(), greeting[1])) co_return false;
  bool noAuth = false;
  for (std::size_t i = 0; i < greeting[1]; ++i) noAuth = noAuth || methods[i] == 0x00;
  const std::array<std::uint8_t, 2> choice{kVersion, static_cast<std::uint8_t>(noAuth ? 0x00 : 0xFF)};
  co_await asio::async_write(socket, asio::buffer(choice), kAwait);
  if (!noAuth) co_return false;

  std::array<std::uint8_t, 4> request{};
  if (!co_await readExact(socket, request.data(), 4) || request[0] != kVersion) co_return false;
  std::string host;
  if (request[3] == 0x01) {
    std::array<std::uint8_t, 4> v4{};
    if (!co_await readExact(socket, v4.data(), 4)) co_return false;
    host = asio::ip::address_v4(v4).to_string();
  } else if (request[3] == 0x04) {
    std::array<std::uint8_t, 16> v6{};
    if (!co_await readExact(socket, v6.data(), 16)) co_return false;
    host = asio::ip::address_v6(v6).to_string();
  } else if (request[3] == 0x03) {
    std::uint8_t length = 0;
    if (!co_await readExact(socket, &length, 1)) co_return false;
    host.resize(length);
    if (!co_await readExact(socket, host.data(), length)) co_return false;
  } else {
    co_await reply(socket, 0x08);  // address type not supported
    co_return false;
  }
  std::array<std::uint8_t, 2> portBytes{};
  if (!co_await readExact(socket, portBytes.data(), 2)) co_return false;
  const auto port = static_cast<std::uint16_t>((portBytes[0] << 8) | portBytes[1]);
  if (request[1] != 0x01) {
    co_await reply(socket, 0x07);  // only CONNECT: BIND and UDP ASSOCIATE are not tunnelled
    co_return false;
  }
  auto conn = client_.current();
  if (!conn) {
    spdlog::info("event=socks_refused host={} port={} reason=\"tunnel not connected\"", host, port);
    co_await reply(socket, 0x01);
    co_return false;
  }
  // A named target: GCC 12 mis-destroys brace-initialised temporaries that live across a co_await.
  const tunnel::Open target{tunnel::OpenKind::Dial, port, host};
  auto [status, id] = co_await conn->open(target);
  if (status.code != Code::Ok) {
    spdlog::info("event=socks_open_failed host={} port={} code=\"{}\" reason=\"{}\"", host, port,
                 tunnel::toString(status.code), status.message);
    co_await reply(socket, socksReplyFor(status.code));
    co_return false;
  }
  co_await reply(socket, 0x00);
  // The pump outlives the handshake deadline, so it runs as its own coroutine.
  tunnel::spawnLogged(client_.executor(), conn->pump(id, std::move(socket)), "socks5 stream");
  co_return true;
}

}  // namespace tether::tunnelclient
