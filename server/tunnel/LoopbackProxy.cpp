// LoopbackProxy.cpp - the accept loop and the handshake deadline of the local proxies.
#include "server/tunnel/LoopbackProxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/LocalListen.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
}  // namespace

LoopbackProxy::LoopbackProxy(TunnelClient& client, ProxyConfig config, std::string what)
    : client_(client), config_(config), acceptor_(client.executor()), what_(std::move(what)) {}

bool LoopbackProxy::bind(std::uint16_t port, std::string& error) {
  return bindLoopback(acceptor_, port, error);
}

std::uint16_t LoopbackProxy::port() const {
  return acceptor_.local_endpoint().port();
}

void LoopbackProxy::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> LoopbackProxy::serve() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kAwait);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;
    tunnel::spawnLogged(client_.executor(), handle(std::move(socket)), what_);
  }
}

asio::awaitable<void> LoopbackProxy::handle(tcp::socket socket) {
  asio::steady_timer deadline(client_.executor(), config_.handshakeTimeout);
  auto negotiated = co_await (negotiate(socket) || deadline.async_wait(kAwait));
  if (negotiated.index() == 1 || !std::get<0>(negotiated)) {
    boost::system::error_code ec;
    socket.close(ec);
  }
}

}  // namespace tether::tunnelclient
