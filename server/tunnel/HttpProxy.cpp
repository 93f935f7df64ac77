// HttpProxy.cpp - each accepted client is served by its own HttpProxyConnection.
#include "server/tunnel/HttpProxy.hpp"

#include "server/tunnel/HttpProxyConnection.hpp"

namespace tether::tunnelclient {

boost::asio::awaitable<void> HttpProxy::serveClient(boost::asio::ip::tcp::socket& socket) {
  HttpProxyConnection connection(client_, auth_, config_, socket);
  co_await connection.run();
}

}  // namespace tether::tunnelclient
