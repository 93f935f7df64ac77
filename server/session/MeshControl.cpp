// MeshControl.cpp - the port-forward conversation, bounded by a timer that aborts the stream.
#include "server/session/MeshControl.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <future>
#include <memory>

#include "server/kube/PortForward.hpp"

namespace tether::session {

namespace asio = boost::asio;

namespace {

struct Conversation {
  std::promise<RouterReplies> done;
  std::shared_ptr<kube::PortForwardStream> stream;
  bool finished = false;  // I/O thread only
};

asio::awaitable<void> converse(kube::Client& client, std::shared_ptr<Conversation> state,
                               std::string namespaceName, std::string pod, std::uint16_t port,
                               std::string requests, std::size_t expected, std::chrono::milliseconds bound) {
  RouterReplies replies;
  try {
    kube::PortForwardConfig config;
    config.connectTimeout = bound;
    config.handshakeTimeout = bound;
    state->stream = co_await kube::openPortForward(client, namespaceName, pod, port, config);
    if (state->finished) {
      // The caller gave up while the port-forward opened: a put sent now would grant a lease it was told
      // failed (and may already have dropped).
      state->stream->abort();
      co_return;
    }
    co_await state->stream->write(asio::buffer(requests));
    std::string in;
    char buffer[4096];
    while (static_cast<std::size_t>(std::count(in.begin(), in.end(), '\n')) < expected) {
      const auto n = co_await state->stream->readSome(asio::buffer(buffer));
      if (n == 0) break;
      in.append(buffer, n);
    }
    for (std::size_t start = 0; start < in.size();) {
      const auto end = in.find('\n', start);
      if (end == std::string::npos) break;
      replies.lines.push_back(in.substr(start, end - start));
      start = end + 1;
    }
    if (replies.lines.size() < expected) replies.error = "the router closed the control connection early";
    co_await state->stream->close();
  } catch (const std::exception& e) {
    replies.error = e.what();
  }
  if (!state->finished) {
    state->finished = true;
    state->done.set_value(std::move(replies));
  }
}

}  // namespace

RouterReplies talkToRouter(kube::Client& client, const asio::any_io_executor& executor,
                           const std::string& namespaceName, const std::string& pod, std::uint16_t port,
                           const std::string& requests, std::size_t expected,
                           std::chrono::milliseconds bound) {
  auto state = std::make_shared<Conversation>();
  auto result = state->done.get_future();
  auto timer = std::make_shared<asio::steady_timer>(executor, bound);
  timer->async_wait([state, timer](const boost::system::error_code& ec) {
    if (ec || state->finished) return;
    state->finished = true;
    if (state->stream) state->stream->abort();
    state->done.set_value(RouterReplies{{}, "no answer from the router's control port in time"});
  });
  asio::co_spawn(executor, converse(client, state, namespaceName, pod, port, requests, expected, bound),
                 [state, timer](std::exception_ptr) { timer->cancel(); });
  // The timer settles the promise within `bound`; the margin covers a busy I/O thread.
  if (result.wait_for(bound + std::chrono::seconds(5)) != std::future_status::ready)
    return RouterReplies{{}, "the control conversation did not end in time"};
  return result.get();
}

}  // namespace tether::session
