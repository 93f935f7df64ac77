// UpstreamPool.cpp - connect within a bound, reuse within bounds.
#include "shadow/router/UpstreamPool.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>

namespace tether::shadow::router {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

asio::awaitable<std::optional<tcp::socket>> connectTo(const asio::any_io_executor& executor,
                                                      const Endpoint& target, std::string& error) {
  tcp::resolver resolver(executor);
  auto [resolveError, endpoints] =
      co_await resolver.async_resolve(target.host, std::to_string(target.port), kAwait);
  if (resolveError) {
    error = "cannot resolve " + target.host + ": " + resolveError.message();
    co_return std::nullopt;
  }
  tcp::socket socket(executor);
  auto [connectError, endpoint] = co_await asio::async_connect(socket, endpoints, kAwait);
  if (connectError) {
    error = "cannot connect to " + target.key() + ": " + connectError.message();
    co_return std::nullopt;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.non_blocking(true, ignored);  // reads go through readAvailable
  co_return std::optional<tcp::socket>(std::move(socket));
}

}  // namespace

bool stillOpen(tcp::socket& socket) {
  char byte = 0;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

UpstreamPool::UpstreamPool(asio::any_io_executor executor, const RouterConfig& config)
    : executor_(std::move(executor)), config_(config) {}

bool UpstreamPool::usable(const Upstream& upstream) const {
  return upstream.requests < config_.pooledMaxRequests &&
         std::chrono::steady_clock::now() - upstream.born < config_.pooledMaxAge;
}

asio::awaitable<std::optional<Upstream>> UpstreamPool::acquire(const Endpoint& target, bool fresh,
                                                               std::string& error) {
  const auto key = target.key();
  if (!fresh) {
    auto found = idle_.find(key);
    while (found != idle_.end() && !found->second.empty()) {
      // The newest idle connection first: it is the least likely to have been closed by the server.
      Idle candidate = std::move(found->second.back());
      found->second.pop_back();
      const bool recent = std::chrono::steady_clock::now() - candidate.since < config_.pooledIdle;
      if (recent && usable(candidate.upstream) && stillOpen(candidate.upstream.socket)) {
        candidate.upstream.reused = true;
        co_return std::optional<Upstream>(std::move(candidate.upstream));
      }
    }
  }
  asio::steady_timer timer(executor_, config_.connectTimeout);
  std::string connectError;
  auto outcome = co_await (connectTo(executor_, target, connectError) || timer.async_wait(kAwait));
  if (outcome.index() == 1) {
    error = "no connection to " + key + " within " + std::to_string(config_.connectTimeout.count()) + " ms";
    co_return std::nullopt;
  }
  auto socket = std::move(std::get<0>(outcome));
  if (!socket) {
    error = connectError;
    co_return std::nullopt;
  }
  ++connects_;
  Upstream upstream(std::move(*socket));
  upstream.key = key;
  co_return std::optional<Upstream>(std::move(upstream));
}

void UpstreamPool::release(Upstream upstream) {
  if (!usable(upstream) || !upstream.in.empty()) return;
  auto& idle = idle_[upstream.key];
  const auto now = std::chrono::steady_clock::now();
  while (!idle.empty() &&
         (idle.size() >= config_.pooledPerTarget || now - idle.front().since >= config_.pooledIdle))
    idle.pop_front();
  upstream.reused = false;
  std::string().swap(upstream.in);  // empty: an idle connection keeps no buffer
  idle.push_back(Idle{std::move(upstream), now});
}

void UpstreamPool::forget(const Endpoint& target) {
  idle_.erase(target.key());
}

void UpstreamPool::clear() {
  idle_.clear();
}

std::size_t UpstreamPool::idle() const {
  std::size_t count = 0;
  for (const auto& [key, list] : idle_) count += list.size();
  return count;
}

}  // namespace tether::shadow::router
