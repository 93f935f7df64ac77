// DnsRelay.cpp - answers DNS_QUERY frames by asking the pod's own nameserver over UDP, so the client
// sees exactly the answers (search domains aside) that a pod of the namespace sees.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <array>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "shadow/Agent.hpp"

namespace tether::shadow {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using udp = asio::ip::udp;
using tunnel::Code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kDnsHeader = 12;

}  // namespace

void Agent::onDnsQuery(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t requestId, std::string query) {
  if (!haveDnsServer_) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "the agent has no nameserver", ""});
    return;
  }
  if (query.size() < kDnsHeader) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Refused, "malformed DNS query", ""});
    return;
  }
  tunnel::spawnLogged(conn->executor(), relayDns(conn, requestId, std::move(query)), "dns relay");
}

asio::awaitable<void> Agent::relayDns(std::shared_ptr<tunnel::Connection> conn, std::uint32_t requestId,
                                      std::string query) {
  udp::socket socket(ioc_);
  boost::system::error_code ec;
  socket.open(dnsServer_.protocol(), ec);
  if (ec) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "dns socket: " + ec.message(), ""});
    co_return;
  }
  asio::steady_timer deadline(ioc_, options_.dnsTimeout);
  auto [sec, sent] = co_await socket.async_send_to(asio::buffer(query), dnsServer_, kAwait);
  if (sec) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "dns send: " + sec.message(), ""});
    co_return;
  }
  std::array<char, 65535> answer{};
  for (;;) {
    udp::endpoint from;
    auto got = co_await (socket.async_receive_from(asio::buffer(answer), from, kAwait) || deadline.async_wait(kAwait));
    if (got.index() == 1) {
      conn->replyDns(requestId, tunnel::DnsReply{Code::Timeout, "no answer from the nameserver", ""});
      co_return;
    }
    auto [rec, n] = std::get<0>(got);
    if (rec) {
      conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "dns receive: " + rec.message(), ""});
      co_return;
    }
    // Only an answer from the server with our query's id counts; anything else is a stray datagram.
    if (from == dnsServer_ && n >= 2 && answer[0] == query[0] && answer[1] == query[1]) {
      conn->replyDns(requestId, tunnel::DnsReply{Code::Ok, "", std::string(answer.data(), n)});
      co_return;
    }
  }
}

}  // namespace tether::shadow
