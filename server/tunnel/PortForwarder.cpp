// PortForwarder.cpp - open a stream to the fixed target for each client, then pump; a failed open closes
// the client at once (no hang) and says why.
#include "server/tunnel/PortForwarder.hpp"

#include <spdlog/spdlog.h>

#include "support/text/LogText.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

PortForwarder::PortForwarder(std::shared_ptr<TunnelClient> client, std::string host, std::uint16_t port,
                             std::function<void(const std::string&)> onResult, ProxyConfig config)
    : LoopbackProxy(std::move(client), ProxyAuth::none(), config, "forward"),
      host_(std::move(host)),
      port_(port),
      onResult_(std::move(onResult)) {}

asio::awaitable<void> PortForwarder::serveClient(tcp::socket& socket) {
  auto conn = client_.current();
  if (!conn) {
    if (onResult_) onResult_("the tunnel to the shadow is not connected (reconnecting)");
    boost::system::error_code ec;
    socket.close(ec);
    co_return;
  }
  // A named target: GCC 12 mis-destroys brace-initialised temporaries that live across a co_await.
  const tunnel::Open target{tunnel::OpenKind::Dial, port_, host_};
  auto [status, id] = co_await conn->open(target);
  if (status.code != tunnel::Code::Ok) {
    spdlog::info("event=forward_open_failed host=\"{}\" port={} code=\"{}\" reason=\"{}\"",
                 support::logText(host_), port_, tunnel::toString(status.code),
                 support::logText(status.message));
    if (onResult_) onResult_(std::string(tunnel::toString(status.code)) + ": " + status.message);
    boost::system::error_code ec;
    socket.close(ec);
    co_return;
  }
  if (onResult_) onResult_({});
  co_await conn->pump(id, std::move(socket));
}

}  // namespace tether::tunnelclient
