// DnsForwarder.cpp - UDP datagrams and TCP length-prefixed messages, each relayed as one DNS_QUERY.
#include "server/tunnel/DnsForwarder.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "protocol/tunnel/asio/AcceptLoop.hpp"
#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/DnsMessage.hpp"
#include "server/tunnel/LocalListen.hpp"
#include "support/text/LogText.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

}  // namespace

DnsForwarder::DnsForwarder(TunnelClient& client, ProxyConfig config)
    : client_(client), config_(config), udp_(client.executor()), tcp_(client.executor()) {}

bool DnsForwarder::bind(std::uint16_t port, std::string& error) {
  // One port for both, so clients find UDP and TCP at one address. TCP picks it: a free UDP port is often
  // the local port of some outgoing TCP connection (a session's port-forward), so UDP-first failed now and
  // then. With port 0, a number UDP cannot take is given back and another one tried.
  constexpr int kAttempts = 16;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (!bindLoopback(tcp_, port, error)) return false;
    const auto chosen = tcp_.local_endpoint().port();
    boost::system::error_code ec;
    udp_.open(udp::v4(), ec);
    if (!ec) udp_.bind(udp::endpoint(asio::ip::address_v4::loopback(), chosen), ec);
    if (!ec) return true;
    error = "udp 127.0.0.1:" + std::to_string(chosen) + ": " + ec.message();
    boost::system::error_code ignored;
    udp_.close(ignored);
    tcp_.close(ignored);
    if (port != 0) return false;
  }
  return false;
}

bool DnsForwarder::adopt(int udpFd, int tcpFd, std::string& error) {
  int type = 0;
  socklen_t size = sizeof(type);
  if (::getsockopt(udpFd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_DGRAM) {
    error = "descriptor " + std::to_string(udpFd) + " is not a UDP socket";
    ::close(udpFd);
    ::close(tcpFd);
    return false;
  }
  if (!adoptListener(tcp_, tcpFd, error)) {
    ::close(udpFd);
    return false;
  }
  boost::system::error_code ec;
  udp_.assign(udp::v4(), udpFd, ec);
  if (ec) {
    error = "adopting the DNS socket: " + ec.message();
    ::close(udpFd);
    return false;
  }
  return true;
}

std::uint16_t DnsForwarder::port() const {
  return udp_.local_endpoint().port();
}

void DnsForwarder::close() {
  boost::system::error_code ec;
  udp_.close(ec);
  tcp_.close(ec);
  for (auto* client : clients_) client->close(ec);
}

asio::awaitable<std::string> relayDnsQuery(TunnelClient& client, std::string query) {
  auto conn = client.current();
  if (!conn) co_return servfailFor(query);
  auto reply = co_await conn->dns(query);
  if (reply.code != tunnel::Code::Ok || reply.answer.size() < kDnsHeaderSize) {
    spdlog::info("event=dns_forward_failed code=\"{}\" reason=\"{}\"", tunnel::toString(reply.code),
                 support::logText(reply.message));
    co_return servfailFor(query);
  }
  co_return std::move(reply.answer);
}

asio::awaitable<void> DnsForwarder::serveUdp() {
  std::array<char, 65535> datagram{};
  while (udp_.is_open()) {
    udp::endpoint from;
    auto [ec, n] = co_await udp_.async_receive_from(asio::buffer(datagram), from, kAwait);
    if (ec == asio::error::operation_aborted || !udp_.is_open()) co_return;
    if (ec || n < kDnsHeaderSize) continue;
    tunnel::spawnLogged(client_.executor(), answerUdp(std::string(datagram.data(), n), from),
                        "dns udp query");
  }
}

asio::awaitable<void> DnsForwarder::answerUdp(std::string query, udp::endpoint from) {
  std::string answer = co_await relayDnsQuery(client_, std::move(query));
  if (!answer.empty() && udp_.is_open()) co_await udp_.async_send_to(asio::buffer(answer), from, kAwait);
}

asio::awaitable<void> DnsForwarder::serveTcp() {
  const tunnel::OnAccepted onAccepted = [this](tcp::socket socket) {
    tunnel::spawnLogged(client_.executor(), serveTcpClient(std::move(socket)), "dns tcp client");
  };
  co_await tunnel::acceptLoop(tcp_, "dns tcp", onAccepted);
}

asio::awaitable<void> DnsForwarder::serveTcpClient(tcp::socket socket) {
  // Known to close() while it runs: a stop ends a client that would otherwise idle for its whole timeout.
  struct Tracked {
    std::set<tcp::socket*>& clients;
    tcp::socket* socket;
    ~Tracked() { clients.erase(socket); }
  } tracked{clients_, &socket};
  clients_.insert(&socket);
  for (;;) {
    std::array<std::uint8_t, 2> prefix{};
    asio::steady_timer idle(client_.executor(), config_.dnsTcpIdleTimeout);
    auto got = co_await (asio::async_read(socket, asio::buffer(prefix), kAwait) || idle.async_wait(kAwait));
    if (got.index() == 1) co_return;
    if (auto [ec, n] = std::get<0>(got); ec) co_return;
    std::string query((static_cast<std::size_t>(prefix[0]) << 8) | prefix[1], '\0');
    auto body = co_await (asio::async_read(socket, asio::buffer(query), kAwait) || idle.async_wait(kAwait));
    if (body.index() == 1 || std::get<0>(std::get<0>(body)) || query.size() < kDnsHeaderSize) co_return;
    std::string answer = co_await relayDnsQuery(client_, std::move(query));
    std::string framed;
    framed.push_back(static_cast<char>((answer.size() >> 8) & 0xFF));
    framed.push_back(static_cast<char>(answer.size() & 0xFF));
    framed += answer;
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(framed), kAwait);
    if (wec) co_return;
  }
}

}  // namespace tether::tunnelclient
