// HttpProxy.cpp - request head, open, answer or forward the head, then the stream pump.
#include "server/tunnel/HttpProxy.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/HttpRequestHead.hpp"
#include "server/tunnel/LocalListen.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using tunnel::Code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> answer(tcp::socket& socket, std::string_view status, const std::string& message) {
  const std::string body = "tether: " + message + "\n";
  const std::string response =
      "HTTP/1.1 " + std::string(status) +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  co_await asio::async_write(socket, asio::buffer(response), kAwait);
}

std::string_view statusFor(Code code) {
  return code == Code::Timeout ? "504 Gateway Timeout" : "502 Bad Gateway";
}

}  // namespace

asio::awaitable<bool> HttpProxy::negotiate(tcp::socket& socket) {
  asio::streambuf buffer(config_.maxHeadBytes);
  auto [ec, headLength] = co_await asio::async_read_until(socket, buffer, "\r\n\r\n", kAwait);
  if (ec) {
    if (ec == asio::error::not_found)
      co_await answer(socket, "431 Request Header Fields Too Large", "request head too large");
    co_return false;
  }
  const std::string all(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
  const std::string_view head = std::string_view(all).substr(0, headLength);
  const std::string_view early = std::string_view(all).substr(headLength);  // body or TLS bytes sent ahead
  auto parsed = parseProxyHead(head);
  if (!parsed.request) {
    co_await answer(socket, "400 Bad Request", parsed.error);
    co_return false;
  }
  const auto& request = *parsed.request;
  auto conn = client_.current();
  if (!conn) {
    co_await answer(socket, "503 Service Unavailable", "the tunnel to the cluster is not connected");
    co_return false;
  }
  // A named target: GCC 12 mis-destroys brace-initialised temporaries that live across a co_await.
  const tunnel::Open target{tunnel::OpenKind::Dial, request.port, request.host};
  auto [status, id] = co_await conn->open(target);
  if (status.code != Code::Ok) {
    spdlog::info("event=http_proxy_open_failed host={} port={} code=\"{}\" reason=\"{}\"", request.host,
                 request.port, tunnel::toString(status.code), status.message);
    co_await answer(socket, statusFor(status.code),
                    std::string(tunnel::toString(status.code)) + ": " + status.message);
    co_return false;
  }
  if (request.connect) {
    static constexpr std::string_view established = "HTTP/1.1 200 Connection established\r\n\r\n";
    auto [wec, n] = co_await asio::async_write(socket, asio::buffer(established), kAwait);
    if (wec) {
      conn->release(id);
      co_return false;
    }
  } else {
    conn->sendNow(id, request.upstreamHead);
  }
  conn->sendNow(id, early);
  tunnel::spawnLogged(client_.executor(), conn->pump(id, std::move(socket)), "http proxy stream");
  co_return true;
}

}  // namespace tether::tunnelclient
