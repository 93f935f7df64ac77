// UpstreamPool.hpp - the router's connections to where requests go: the stable Service and each lease's
// target. Keep-alive connections return to the pool after a complete response and are reused for the next
// request to the same target, within bounds on idle time, age and requests (a ClusterIP pins one pod per
// connection, so age and request caps keep load spread). A pooled socket is checked for EOF before reuse:
// servers close idle connections on their own schedule (Node.js after 5 s).
//
// Runs on the router's one thread; nothing here locks.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

#include "shadow/router/RouterConfig.hpp"

namespace tether::shadow::router {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string key() const { return host + ":" + std::to_string(port); }
};

struct Upstream {
  explicit Upstream(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
  boost::asio::ip::tcp::socket socket;
  std::string key;
  std::string in;  // bytes read from the upstream and not handled yet
  std::size_t requests = 0;
  std::chrono::steady_clock::time_point born = std::chrono::steady_clock::now();
  bool reused = false;  // came from the pool (a failure before any answer may be retried once)
};

class UpstreamPool {
 public:
  UpstreamPool(boost::asio::any_io_executor executor, const RouterConfig& config);

  // An open pooled connection to `target` (unless `fresh`), else a new one within
  // RouterConfig::connectTimeout; nullopt with `error` saying why.
  boost::asio::awaitable<std::optional<Upstream>> acquire(const Endpoint& target, bool fresh,
                                                          std::string& error);
  // Keeps `upstream` for reuse when it is within its bounds, else closes it.
  void release(Upstream upstream);
  // Closes the idle connections to `target` (its lease ended).
  void forget(const Endpoint& target);
  void clear();
  std::size_t idle() const;
  std::size_t connectsMade() const { return connects_; }

 private:
  struct Idle {
    Upstream upstream;
    std::chrono::steady_clock::time_point since;
  };
  bool usable(const Upstream& upstream) const;

  boost::asio::any_io_executor executor_;
  const RouterConfig& config_;
  std::unordered_map<std::string, std::deque<Idle>> idle_;
  std::size_t connects_ = 0;
};

// An open socket that has nothing to read and no EOF waiting: safe to send a request on.
bool stillOpen(boost::asio::ip::tcp::socket& socket);

}  // namespace tether::shadow::router
