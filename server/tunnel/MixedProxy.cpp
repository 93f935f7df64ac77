// MixedProxy.cpp - a peek at the first byte, within the handshake bound, then SOCKS or HTTP.
#include "server/tunnel/MixedProxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
}  // namespace

MixedProxy::MixedProxy(std::shared_ptr<TunnelClient> client, ProxyAuth auth, ProxyConfig config)
    : LoopbackProxy(client, auth, config, "proxy"),
      socks_(std::make_shared<Socks5Proxy>(client, auth, config)),
      http_(std::make_shared<HttpProxy>(client, auth, config)) {}

asio::awaitable<void> MixedProxy::serveClient(tcp::socket& socket) {
  std::array<char, 1> first{};
  asio::steady_timer deadline(client_.executor(), config_.handshakeTimeout);
  auto peeked = co_await (socket.async_receive(asio::buffer(first), tcp::socket::message_peek, kAwait) ||
                          deadline.async_wait(kAwait));
  if (peeked.index() == 1 || std::get<0>(std::get<0>(peeked)) || std::get<1>(std::get<0>(peeked)) == 0) {
    boost::system::error_code ec;
    socket.close(ec);
    co_return;
  }
  if (first[0] == 0x05 || first[0] == 0x04) {
    co_await socks_->serveClient(socket);
  } else {
    co_await http_->serveClient(socket);
  }
}

}  // namespace tether::tunnelclient
