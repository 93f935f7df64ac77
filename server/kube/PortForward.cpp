// PortForward.cpp - one forwarded connection per WebSocket `v4.channel.k8s.io` (k8s-api-notes.md §8.3).
#include "server/kube/PortForward.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstring>

#include "server/kube/PortForwardDial.hpp"
#include "server/kube/PortForwardStreamImpl.hpp"

namespace tether::kube {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::use_awaitable;

namespace {

class ChannelStream final : public PortForwardStream::Impl {
 public:
  ChannelStream(detail::DialedWebSocket dialed, std::string what, std::uint16_t port)
      : Impl(std::move(what)), dialed_(std::move(dialed)), ws_(*dialed_.ws), port_(port) {}

  asio::awaitable<std::size_t> readSome(asio::mutable_buffer buffer) override;
  asio::awaitable<void> write(asio::const_buffer data) override;
  asio::awaitable<void> close() override;
  void abort() override;

 private:
  detail::DialedWebSocket dialed_;
  detail::TlsWebSocket& ws_;
  std::uint16_t port_;
  beast::flat_buffer incoming_;
  std::string pending_;  // data received but not yet handed out
  bool dataPrefixSeen_ = false;
  bool errorPrefixSeen_ = false;
  bool ended_ = false;
};

asio::awaitable<std::size_t> ChannelStream::readSome(asio::mutable_buffer buffer) {
  while (pending_.empty()) {
    if (ended_) co_return 0;
    incoming_.clear();
    auto [ec, n] = co_await ws_.async_read(incoming_, asio::as_tuple(use_awaitable));
    // Once the server's close frame has arrived the conversation is over, even if tearing down TLS
    // then fails (a server that closes its socket right after the frame gives ENOTCONN here).
    const bool serverClosed = ws_.reason().code != websocket::close_code::none;
    if (ec == websocket::error::closed || ec == asio::error::eof || ec == ssl::error::stream_truncated ||
        (ec && serverClosed)) {
      ended_ = true;
      co_return 0;
    }
    if (ec) {
      throw PortForwardError(description + ": connection lost: " + ec.message(),
                             ec == asio::error::operation_aborted);
    }
    const auto data = beast::buffers_to_string(incoming_.data());
    if (data.empty()) continue;
    const auto channel = static_cast<unsigned char>(data[0]);
    std::string_view payload(data);
    payload.remove_prefix(1);
    bool& prefixSeen = channel == 0 ? dataPrefixSeen_ : errorPrefixSeen_;
    if ((channel == 0 || channel == 1) && !prefixSeen) {
      // The server's first message on each channel starts with the port, little-endian.
      if (payload.size() < 2) continue;
      prefixSeen = true;
      payload.remove_prefix(2);
    }
    if (channel == 1) {
      if (!payload.empty()) throw PortForwardError(description + ": " + std::string(payload));
      continue;
    }
    if (channel == 0) pending_.append(payload);
  }
  const auto n = std::min(buffer.size(), pending_.size());
  std::memcpy(buffer.data(), pending_.data(), n);
  pending_.erase(0, n);
  co_return n;
}

asio::awaitable<void> ChannelStream::write(asio::const_buffer data) {
  std::string message;
  message.reserve(data.size() + 1);
  message.push_back('\0');  // client messages carry the channel byte and no port prefix
  message.append(static_cast<const char*>(data.data()), data.size());
  ws_.binary(true);
  auto [ec, n] = co_await ws_.async_write(asio::buffer(message), asio::as_tuple(use_awaitable));
  if (ec) {
    throw PortForwardError(description + ": sending failed: " + ec.message(),
                           ec == asio::error::operation_aborted);
  }
}

asio::awaitable<void> ChannelStream::close() {
  if (!ws_.is_open()) co_return;
  auto [ec] = co_await ws_.async_close(websocket::close_code::normal, asio::as_tuple(use_awaitable));
  (void)ec;  // closing a connection the peer already dropped is fine
}

void ChannelStream::abort() {
  boost::system::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

}  // namespace

PortForwardStream::PortForwardStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PortForwardStream::~PortForwardStream() = default;

asio::awaitable<std::size_t> PortForwardStream::readSome(asio::mutable_buffer buffer) {
  co_return co_await impl_->readSome(buffer);
}

asio::awaitable<void> PortForwardStream::write(asio::const_buffer data) {
  co_await impl_->write(data);
}

asio::awaitable<void> PortForwardStream::close() {
  co_await impl_->close();
}

void PortForwardStream::abort() {
  impl_->abort();
}

const std::string& PortForwardStream::describe() const {
  return impl_->description;
}

asio::awaitable<std::unique_ptr<PortForwardStream>> openPortForward(Client& client, std::string namespaceName,
                                                                    std::string pod, std::uint16_t port,
                                                                    PortForwardConfig config) {
  detail::DialRequest request;
  request.what = "port-forward to pod " + namespaceName + "/" + pod + " port " + std::to_string(port);
  request.namespaceName = std::move(namespaceName);
  request.pod = std::move(pod);
  request.query = "ports=" + std::to_string(port);
  request.subprotocol = "v4.channel.k8s.io";
  auto dialed = co_await detail::dialPortForward(client, request, config);
  co_return std::make_unique<PortForwardStream>(
      std::make_unique<ChannelStream>(std::move(dialed), std::move(request.what), port));
}

}  // namespace tether::kube
