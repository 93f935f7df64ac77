// PortForwardStreamImpl.hpp - what a PortForwardStream is made of: one implementation per wire protocol
// (a WebSocket per connection, or a stream pair on a shared SPDY connection). Internal to server/kube.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <string>

#include "server/kube/PortForward.hpp"

namespace tether::kube {

struct PortForwardStream::Impl {
  explicit Impl(std::string what) : description(std::move(what)) {}
  virtual ~Impl() = default;
  virtual boost::asio::awaitable<std::size_t> readSome(boost::asio::mutable_buffer buffer) = 0;
  virtual boost::asio::awaitable<void> write(boost::asio::const_buffer data) = 0;
  virtual boost::asio::awaitable<void> close() = 0;
  virtual void abort() = 0;

  std::string description;
};

}  // namespace tether::kube
