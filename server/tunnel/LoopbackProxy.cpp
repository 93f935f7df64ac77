// LoopbackProxy.cpp - bind and the accept loop of the local proxies.
#include "server/tunnel/LoopbackProxy.hpp"

#include <spdlog/spdlog.h>

#include "protocol/tunnel/asio/AcceptLoop.hpp"
#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/LocalListen.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

LoopbackProxy::LoopbackProxy(std::shared_ptr<TunnelClient> client, ProxyAuth auth, ProxyConfig config,
                             std::string what)
    : tunnel_(std::move(client)),
      client_(*tunnel_),
      auth_(std::move(auth)),
      config_(config),
      what_(std::move(what)),
      acceptor_(client_.executor()) {}

bool LoopbackProxy::bind(std::uint16_t port, std::string& error) {
  return bindLoopback(acceptor_, port, error);
}

bool LoopbackProxy::adopt(int listeningFd, std::string& error) {
  return adoptListener(acceptor_, listeningFd, error);
}

std::uint16_t LoopbackProxy::port() const {
  return acceptor_.local_endpoint().port();
}

void LoopbackProxy::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto* socket : clients_) socket->close(ec);
}

asio::awaitable<void> LoopbackProxy::serve() {
  auto self = shared_from_this();
  const tunnel::OnAccepted onAccepted = [self](tcp::socket socket) {
    tunnel::spawnLogged(self->client_.executor(), runClient(self, std::move(socket)),
                        self->what_ + " proxy client");
  };
  co_await tunnel::acceptLoop(acceptor_, what_ + " proxy", onAccepted);
}

asio::awaitable<void> LoopbackProxy::runClient(std::shared_ptr<LoopbackProxy> self, tcp::socket socket) {
  if (self->clients_.size() >= self->config_.maxClients) {
    // Any local user can open connections; each one held costs a descriptor and a coroutine.
    if (!self->full_) {
      spdlog::warn("event=proxy_full proxy={} clients={} reason=\"ProxyConfig::maxClients\"", self->what_,
                   self->clients_.size());
    }
    self->full_ = true;
    boost::system::error_code ec;
    socket.close(ec);
    co_return;
  }
  self->full_ = false;
  self->clients_.insert(&socket);
  try {
    co_await self->serveClient(socket);
  } catch (...) {
    self->clients_.erase(&socket);
    throw;
  }
  self->clients_.erase(&socket);
}

std::string peerOf(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  return ec ? std::string("?") : peer.address().to_string() + ":" + std::to_string(peer.port());
}

}  // namespace tether::tunnelclient
