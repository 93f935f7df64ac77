// DnsRelay.cpp - answers DNS_QUERY frames by asking the pod's own nameserver over UDP, so the client
// sees exactly the answers (search domains aside) that a pod of the namespace sees. An answer too big for
// a datagram comes back truncated (TC bit); the query is then asked again over TCP, as a resolver would.
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "shadow/Agent.hpp"

namespace tether::shadow {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using udp = asio::ip::udp;
using tcp = asio::ip::tcp;
using tunnel::Code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kDnsHeader = 12;

bool truncated(const char* answer, std::size_t size) {
  return size >= kDnsHeader && (static_cast<unsigned char>(answer[2]) & 0x02u) != 0;
}

}  // namespace

// DNS over TCP (RFC 1035 §4.2.2): each message is preceded by its length in two bytes.
asio::awaitable<void> Agent::relayDnsTcp(std::shared_ptr<tunnel::Connection> conn, std::uint32_t requestId,
                                         std::string query, asio::steady_timer& deadline) {
  tcp::socket socket(ioc_);
  const tcp::endpoint server(dnsServer_.address(), dnsServer_.port());
  auto connected = co_await (socket.async_connect(server, kAwait) || deadline.async_wait(kAwait));
  if (connected.index() == 1) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Timeout, "no answer from the nameserver over TCP", ""});
    co_return;
  }
  if (auto [ec] = std::get<0>(connected); ec) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "dns over tcp: " + ec.message(), ""});
    co_return;
  }
  std::string framed;
  framed += static_cast<char>((query.size() >> 8u) & 0xffu);
  framed += static_cast<char>(query.size() & 0xffu);
  framed += query;
  std::array<unsigned char, 2> length{};
  std::string answer;
  auto exchange = [&]() -> asio::awaitable<boost::system::error_code> {
    auto [wec, written] = co_await asio::async_write(socket, asio::buffer(framed), kAwait);
    if (wec) co_return wec;
    auto [lec, got] = co_await asio::async_read(socket, asio::buffer(length), kAwait);
    if (lec) co_return lec;
    answer.resize((static_cast<std::size_t>(length[0]) << 8u) | length[1]);
    auto [aec, n] = co_await asio::async_read(socket, asio::buffer(answer), kAwait);
    co_return aec;
  };
  auto result = co_await (exchange() || deadline.async_wait(kAwait));
  if (result.index() == 1) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Timeout, "no answer from the nameserver over TCP", ""});
    co_return;
  }
  if (const auto ec = std::get<0>(result); ec) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "dns over tcp: " + ec.message(), ""});
    co_return;
  }
  conn->replyDns(requestId, tunnel::DnsReply{Code::Ok, "", std::move(answer)});
}

void Agent::onDnsQuery(const std::shared_ptr<tunnel::Connection>& conn, std::uint32_t requestId,
                       std::string query) {
  if (!haveDnsServer_) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "the agent has no nameserver", ""});
    return;
  }
  if (query.size() < kDnsHeader) {
    conn->replyDns(requestId, tunnel::DnsReply{Code::Refused, "malformed DNS query", ""});
    return;
  }
  if (dnsInFlight_ >= options_.maxDnsInFlight) {
    // A client that asks faster than the nameserver answers is told so at once (its forwarder answers
    // SERVFAIL) instead of the agent holding a socket and a timer for every query.
    if (!dnsBusy_) spdlog::warn("event=dns_busy in_flight={} reason=\"--max-dns-in-flight\"", dnsInFlight_);
    dnsBusy_ = true;  // logged once per burst
    conn->replyDns(requestId, tunnel::DnsReply{Code::Busy, "too many DNS queries in flight", ""});
    return;
  }
  ++dnsInFlight_;  // counted now, not when the relay first runs: a read may carry many queries
  tunnel::spawnLogged(conn->executor(), relayDns(conn, requestId, std::move(query)), "dns relay");
}

asio::awaitable<void> Agent::relayDns(std::shared_ptr<tunnel::Connection> conn, std::uint32_t requestId,
                                      std::string query) {
  // onDnsQuery counted this query when it spawned the relay; it stops counting at whichever co_return.
  struct Uncount {
    Agent& agent;
    ~Uncount() {
      if (--agent.dnsInFlight_ < agent.options_.maxDnsInFlight) agent.dnsBusy_ = false;
    }
  } uncount{*this};
  udp::socket socket(ioc_);
  boost::system::error_code ec;
  socket.open(dnsServer_.protocol(), ec);
  if (!ec) socket.non_blocking(true, ec);
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
  // The answer's buffer is sized to the datagram that arrived, so a query waiting on a silent nameserver
  // holds no buffer at all.
  std::string answer;
  for (;;) {
    auto ready = co_await (socket.async_wait(udp::socket::wait_read, kAwait) || deadline.async_wait(kAwait));
    if (ready.index() == 1) {
      conn->replyDns(requestId, tunnel::DnsReply{Code::Timeout, "no answer from the nameserver", ""});
      co_return;
    }
    if (auto [wec] = std::get<0>(ready); wec) {
      conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "dns receive: " + wec.message(), ""});
      co_return;
    }
    boost::system::error_code aec;
    answer.resize(std::max<std::size_t>(socket.available(aec), kDnsHeader));
    udp::endpoint from;
    boost::system::error_code rec;
    const std::size_t n = socket.receive_from(asio::buffer(answer), from, 0, rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) continue;
    if (rec) {
      conn->replyDns(requestId, tunnel::DnsReply{Code::Unreachable, "dns receive: " + rec.message(), ""});
      co_return;
    }
    // Only an answer from the server with our query's id counts; anything else is a stray datagram.
    if (from == dnsServer_ && n >= 2 && answer[0] == query[0] && answer[1] == query[1]) {
      if (truncated(answer.data(), n)) {
        socket.close();
        co_await relayDnsTcp(conn, requestId, std::move(query), deadline);
        co_return;
      }
      answer.resize(n);
      conn->replyDns(requestId, tunnel::DnsReply{Code::Ok, "", std::move(answer)});
      co_return;
    }
  }
}

}  // namespace tether::shadow
