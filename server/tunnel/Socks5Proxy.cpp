// Socks5Proxy.cpp - the handshake (Socks5Handshake) on a socket, the OPEN, then the stream pump.
#include "server/tunnel/Socks5Proxy.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "server/tunnel/Socks5Handshake.hpp"
#include "server/tunnel/Splice.hpp"
#include "support/text/LogText.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using tunnel::Code;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
}  // namespace

std::uint8_t socksReplyFor(Code code) {
  switch (code) {
    case Code::Ok:
      return 0x00;
    case Code::Refused:
      return 0x05;  // connection refused
    case Code::DnsFailure:
    case Code::Unreachable:
    case Code::Timeout:
      return 0x04;  // host unreachable
    default:
      return 0x01;  // general failure
  }
}

asio::awaitable<void> Socks5Proxy::serveClient(tcp::socket& socket) {
  Socks5Handshake handshake(auth_);
  asio::steady_timer deadline(client_.executor(), config_.handshakeTimeout);
  auto negotiated = co_await (negotiate(socket, handshake) || deadline.async_wait(kAwait));
  if (negotiated.index() == 1 || !std::get<0>(negotiated)) {
    boost::system::error_code ec;
    socket.close(ec);
    co_return;
  }
  auto opened = std::move(*std::get<0>(negotiated));
  if (opened.outside) {
    // Bytes each side sent ahead of the other's answer go first, then the two are joined.
    const std::string early(handshake.early());
    auto [eec, en] = co_await asio::async_write(opened.outside->socket, asio::buffer(early), kAwait);
    auto [cec, cn] = co_await asio::async_write(socket, asio::buffer(opened.outside->early), kAwait);
    if (eec || cec) co_return;
    co_await splice(std::move(socket), std::move(opened.outside->socket));
    co_return;
  }
  auto [conn, id] = opened.takeStream();
  conn->sendNow(id, handshake.early());
  co_await conn->pump(id, std::move(socket));
}

asio::awaitable<std::optional<Reached>> Socks5Proxy::negotiate(tcp::socket& socket,
                                                               Socks5Handshake& handshake) {
  std::array<char, 1024> input{};
  for (;;) {
    auto [rec, n] = co_await socket.async_read_some(asio::buffer(input), kAwait);
    if (rec) co_return std::nullopt;
    auto step = handshake.feed(std::string_view(input.data(), n));
    if (!step.reply.empty()) co_await asio::async_write(socket, asio::buffer(step.reply), kAwait);
    if (step.next == Socks5Handshake::Next::Close) {
      if (step.authFailed) {
        auth_.noteRefusal(what_, peerOf(socket), step.refusal);
      } else {
        spdlog::info("event=socks_refused peer={} reason=\"{}\"", peerOf(socket), step.refusal);
      }
      co_return std::nullopt;
    }
    if (step.next == Socks5Handshake::Next::Connect) break;
  }
  const std::string host = handshake.host();
  const std::uint16_t port = handshake.port();
  auto reached = co_await reach(client_, config_, host, port);
  if (!reached.ok()) {
    spdlog::info("event=socks_open_failed host=\"{}\" port={} via=\"{}\" code=\"{}\" reason=\"{}\"",
                 support::logText(host), port, toString(reached.via), tunnel::toString(reached.code),
                 support::logText(reached.message));
    co_await asio::async_write(socket, asio::buffer(handshake.answer(socksReplyFor(reached.code))), kAwait);
    co_return std::nullopt;
  }
  auto [wec, written] = co_await asio::async_write(socket, asio::buffer(handshake.answer(0x00)), kAwait);
  if (wec) co_return std::nullopt;  // the stream opened for it is released with `reached`
  co_return std::move(reached);
}

}  // namespace tether::tunnelclient
