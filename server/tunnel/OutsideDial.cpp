// OutsideDial.cpp - resolve, connect, and for the developer's proxy a CONNECT and its answer.
#include "server/tunnel/OutsideDial.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "support/text/Base64.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxProxyAnswer = 16 * 1024;

// "host:port", "[v6]:port".
std::string authorityOf(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

OutsideFailure failureOf(const boost::system::error_code& ec) {
  if (ec == asio::error::connection_refused) return OutsideFailure::Refused;
  if (ec == asio::error::timed_out || ec == asio::error::operation_aborted) return OutsideFailure::Timeout;
  return OutsideFailure::Unreachable;
}

// Resolves and connects within `deadline`.
asio::awaitable<std::optional<tcp::socket>> connectTo(const std::string& host, std::uint16_t port,
                                                      asio::steady_timer& deadline, OutsideFailure& failure,
                                                      std::string& error) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto resolved =
      co_await (resolver.async_resolve(host, std::to_string(port), kAwait) || deadline.async_wait(kAwait));
  if (resolved.index() == 1) {
    failure = OutsideFailure::Timeout;
    error = "resolving " + host + " took too long";
    co_return std::nullopt;
  }
  auto [rec, endpoints] = std::get<0>(resolved);
  if (rec) {
    failure = OutsideFailure::NoSuchName;
    error = "cannot resolve " + host + ": " + rec.message();
    co_return std::nullopt;
  }
  tcp::socket socket(executor);
  auto connected = co_await (asio::async_connect(socket, endpoints, kAwait) || deadline.async_wait(kAwait));
  if (connected.index() == 1) {
    failure = OutsideFailure::Timeout;
    error = "connecting to " + host + ":" + std::to_string(port) + " took too long";
    co_return std::nullopt;
  }
  if (auto [cec, endpoint] = std::get<0>(connected); cec) {
    failure = failureOf(cec);
    error = host + ":" + std::to_string(port) + ": " + cec.message();
    co_return std::nullopt;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return std::move(socket);
}

}  // namespace

asio::awaitable<std::optional<OutsideConnection>> dialOutside(const std::string& host, std::uint16_t port,
                                                              const OutboundPolicy& policy, Via via,
                                                              std::chrono::milliseconds timeout,
                                                              OutsideFailure& failure, std::string& error) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer deadline(executor, timeout);
  failure = OutsideFailure::None;
  if (via != Via::Upstream || !policy.upstream) {
    auto socket = co_await connectTo(host, port, deadline, failure, error);
    if (!socket) co_return std::nullopt;
    co_return OutsideConnection{std::move(*socket), {}};
  }
  const auto& proxy = *policy.upstream;
  auto socket = co_await connectTo(proxy.address.host, proxy.address.port, deadline, failure, error);
  if (!socket) {
    error = "your HTTP proxy " + proxy.address.host + ":" + std::to_string(proxy.address.port) + ": " + error;
    co_return std::nullopt;
  }
  const std::string authority = authorityOf(host, port);
  std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!proxy.credentials.empty()) {
    request += "Proxy-Authorization: Basic " + support::encodeBase64(proxy.credentials) + "\r\n";
  }
  request += "\r\n";
  auto wrote =
      co_await (asio::async_write(*socket, asio::buffer(request), kAwait) || deadline.async_wait(kAwait));
  if (wrote.index() == 1 || std::get<0>(std::get<0>(wrote))) {
    failure = OutsideFailure::Timeout;
    error = "your HTTP proxy did not take the CONNECT for " + authority;
    co_return std::nullopt;
  }
  std::string answer;
  std::array<char, 4096> buffer{};
  std::size_t headEnd = std::string::npos;
  while ((headEnd = answer.find("\r\n\r\n")) == std::string::npos) {
    auto got =
        co_await (socket->async_read_some(asio::buffer(buffer), kAwait) || deadline.async_wait(kAwait));
    if (got.index() == 1) {
      failure = OutsideFailure::Timeout;
      error = "your HTTP proxy did not answer the CONNECT for " + authority + " in time";
      co_return std::nullopt;
    }
    auto [rec, n] = std::get<0>(got);
    if (rec || answer.size() + n > kMaxProxyAnswer) {
      failure = OutsideFailure::ProxyRefused;
      error = "your HTTP proxy closed the connection instead of answering the CONNECT for " + authority;
      co_return std::nullopt;
    }
    answer.append(buffer.data(), n);
  }
  // "HTTP/1.1 200 Connection established"
  const auto space = answer.find(' ');
  const bool ok = space != std::string::npos && answer.size() > space + 1 && answer[space + 1] == '2';
  if (!ok) {
    failure = OutsideFailure::ProxyRefused;
    error = "your HTTP proxy refused CONNECT " + authority + ": " + answer.substr(0, answer.find("\r\n"));
    co_return std::nullopt;
  }
  co_return OutsideConnection{std::move(*socket), answer.substr(headEnd + 4)};
}

}  // namespace tether::tunnelclient
