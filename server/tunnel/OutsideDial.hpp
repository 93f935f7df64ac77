// OutsideDial.hpp - a connection to a host that is not the cluster's, made from this machine: straight to
// it, or through the developer's own HTTP proxy (CONNECT), as their process would without Tether.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "server/tunnel/OutboundPolicy.hpp"

namespace tether::tunnelclient {

struct OutsideConnection {
  boost::asio::ip::tcp::socket socket;
  std::string early;  // bytes the developer's proxy sent after its 200 (they belong to the stream)
};

enum class OutsideFailure { None, NoSuchName, Refused, Unreachable, Timeout, ProxyRefused };

// `via` is Direct or Upstream (policy.upstream is then set). Every step is bounded by `timeout`. On
// failure: nullopt, with `failure` and `error` saying what went wrong.
boost::asio::awaitable<std::optional<OutsideConnection>> dialOutside(
    const std::string& host, std::uint16_t port, const OutboundPolicy& policy, Via via,
    std::chrono::milliseconds timeout, OutsideFailure& failure, std::string& error);

}  // namespace tether::tunnelclient
