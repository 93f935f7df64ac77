// TransparentProxy.cpp - the original destination, the OPEN, and the stream pump.
#include "server/tunnel/TransparentProxy.hpp"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstring>

#include "server/tunnel/Reach.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::optional<tcp::endpoint> conntrackDestination(tcp::socket& socket) {
  const int fd = socket.native_handle();
  if (socket.local_endpoint().address().is_v6()) {
    sockaddr_in6 v6{};
    socklen_t length = sizeof(v6);
    if (::getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &v6, &length) != 0) return std::nullopt;
    asio::ip::address_v6::bytes_type bytes{};
    std::memcpy(bytes.data(), &v6.sin6_addr, bytes.size());
    return tcp::endpoint(asio::ip::address_v6(bytes), ntohs(v6.sin6_port));
  }
  sockaddr_in v4{};
  socklen_t length = sizeof(v4);
  if (::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &v4, &length) != 0) return std::nullopt;
  return tcp::endpoint(asio::ip::address_v4(ntohl(v4.sin_addr.s_addr)), ntohs(v4.sin_port));
}

}  // namespace

std::optional<tcp::endpoint> originalDestination(tcp::socket& socket) {
  // Where conntrack tracks connections it answers for every one; a connection made straight to this
  // listener then "was going" to the listener itself, which is no destination to dial.
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  const auto destination = conntrackDestination(socket);
  if (ec || !destination || *destination == local) return std::nullopt;
  return destination;
}

namespace {

// An RST rather than a FIN: the program's connect already succeeded, so a reset is how "refused" or
// "unreachable" reaches it without a hang or a clean (and misleading) end of stream.
void reset(tcp::socket& socket) {
  boost::system::error_code ec;
  socket.set_option(asio::socket_base::linger(true, 0), ec);
  socket.close(ec);
}

}  // namespace

asio::awaitable<void> TransparentProxy::serveClient(tcp::socket& socket) {
  const auto destination = originalDestination(socket);
  if (!destination) {
    spdlog::info("event=transparent_refused peer={} reason=\"not a redirected connection\"", peerOf(socket));
    reset(socket);
    co_return;
  }
  const std::string host = destination->address().to_string();
  const auto port = destination->port();
  auto reached = co_await reach(client_, config_, host, port);
  if (!reached.ok()) {
    spdlog::info("event=transparent_open_failed host={} port={} via=\"{}\" code=\"{}\"", host, port,
                 toString(reached.via), tunnel::toString(reached.code));
    reset(socket);
    co_return;
  }
  co_await join(std::move(reached), std::move(socket));
}

}  // namespace tether::tunnelclient
