// PortForwardConnector.cpp - kube::PortForwardStream as a tunnel::ByteStream.
#include "server/session/PortForwardConnector.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/kube/Client.hpp"
#include "server/kube/Objects.hpp"
#include "server/kube/PortForward.hpp"
#include "support/exec/OffThread.hpp"

namespace tether::session {

namespace asio = boost::asio;

namespace {

// The tunnel expects expected failures as error codes; the kube stream throws PortForwardError with a
// readable message, which is logged here once and mapped to a reset.
class PortForwardByteStream final : public tunnel::ByteStream {
 public:
  explicit PortForwardByteStream(std::unique_ptr<kube::PortForwardStream> stream)
      : stream_(std::move(stream)) {}
  ~PortForwardByteStream() override {
    closed_ = true;
    stream_->abort();
  }

  asio::awaitable<Result> readSome(asio::mutable_buffer buffer) override {
    try {
      const auto n = co_await stream_->readSome(buffer);
      if (n == 0) co_return Result{asio::error::eof, 0};
      co_return Result{boost::system::error_code{}, n};
    } catch (const kube::PortForwardError& error) {
      report(error);
      co_return Result{asio::error::connection_reset, 0};
    }
  }

  asio::awaitable<Result> writeAll(asio::const_buffer buffer) override {
    try {
      co_await stream_->write(buffer);
      co_return Result{boost::system::error_code{}, buffer.size()};
    } catch (const kube::PortForwardError& error) {
      report(error);
      co_return Result{asio::error::connection_reset, 0};
    }
  }

  void close() override {
    closed_ = true;
    stream_->abort();
  }

 private:
  // A drop is news; the end of a stream this side closed (or a read this side cancelled, on a stop) is not.
  void report(const kube::PortForwardError& error) const {
    if (closed_ || error.cancelled()) {
      spdlog::debug("{}", error.what());
    } else {
      spdlog::warn("{}", error.what());
    }
  }
  bool closed_ = false;
  std::string describe() const override { return stream_->describe(); }

 private:
  std::unique_ptr<kube::PortForwardStream> stream_;
};

}  // namespace

tunnelclient::Connector portForwardConnector(kube::Client& client, support::ThreadPool& blocking,
                                             std::string namespaceName, std::string pod, std::string uid,
                                             std::uint16_t port) {
  return [&client, &blocking, namespaceName = std::move(namespaceName), pod = std::move(pod),
          uid = std::move(uid), port]() -> asio::awaitable<tunnelclient::Connected> {
    if (!uid.empty()) {
      // One small GET per attempt, on the pool: the I/O thread carries other sessions' tunnels.
      auto read = co_await support::offThread(
          blocking, [&] { return std::optional(kube::getPodMeta(client, namespaceName, pod)); });
      const auto& current = *read;
      if (current && current.value().uid != uid) {
        co_return tunnelclient::Connected{"pod " + namespaceName + "/" + pod +
                                              " is not this session's shadow any "
                                              "more (uid " +
                                              current.value().uid + ", expected " + uid + ")",
                                          nullptr, true};
      }
    }
    // The credentials may run a kubeconfig exec plugin (up to its bound): fetch them on the pool, so the
    // dial below finds them cached. A failure here is reported by the dial, with its context.
    co_await support::offThread(blocking, [&client] {
      try {
        static_cast<void>(client.credentials().current());
      } catch (const std::exception&) {
      }
      return true;
    });
    try {
      auto stream = co_await kube::openPortForward(client, namespaceName, pod, port);
      co_return tunnelclient::Connected{{}, std::make_unique<PortForwardByteStream>(std::move(stream))};
    } catch (const kube::PortForwardError& error) {
      co_return tunnelclient::Connected{error.what(), nullptr};
    }
  };
}

}  // namespace tether::session
