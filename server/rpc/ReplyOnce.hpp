// ReplyOnce.hpp - the move-only reply handle every request handler receives.
//
// It guarantees the JSON-RPC rule "every request is answered exactly once": a second reply is dropped
// and logged; a handle destroyed without replying answers InternalError ("server failed to reply"),
// so a handler bug shows up as an error in the IDE instead of a request that hangs for ever.
// A cancelled request has already been answered with -32800; the handler's late reply is dropped.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "protocol/jsonrpc/Message.hpp"
#include "server/rpc/Cancellation.hpp"
#include "server/rpc/Transport.hpp"

namespace tether::rpc {

// Shared between the handle, the dispatcher's pending table and `$/cancelRequest`.
struct PendingRequest {
  jsonrpc::Id id;
  std::string method;
  std::chrono::steady_clock::time_point received;
  Outgoing* out;
  CancellationToken cancel;
  std::atomic<bool> answered{false};
  // Called once, right after the answer is sent (the dispatcher removes the entry, updates lifecycle).
  std::function<void(const jsonrpc::Response&)> onAnswered;

  // Sends `response` unless the request was answered before. Returns whether this call answered it.
  bool answer(jsonrpc::Response response);
};

class ReplyOnce {
 public:
  explicit ReplyOnce(std::shared_ptr<PendingRequest> pending)
      : pending_(std::move(pending)), uncaughtAtStart_(std::uncaught_exceptions()) {}
  ReplyOnce(ReplyOnce&&) noexcept = default;
  ReplyOnce& operator=(ReplyOnce&& other) noexcept;
  ReplyOnce(const ReplyOnce&) = delete;
  ReplyOnce& operator=(const ReplyOnce&) = delete;
  ~ReplyOnce();

  void operator()(boost::json::value result);
  void error(jsonrpc::ErrorCode code, std::string message, boost::json::value data = nullptr);
  void error(int code, std::string message, boost::json::value data = nullptr);

  const CancellationToken& cancellation() const { return pending_->cancel; }
  const std::string& method() const { return pending_->method; }

 private:
  void send(jsonrpc::Response response);
  std::shared_ptr<PendingRequest> pending_;
  // A handle destroyed while an exception unwinds does not answer: whoever catches that exception
  // (the dispatcher for synchronous handlers, the coroutine boundary for async ones) answers with it.
  int uncaughtAtStart_;
};

}  // namespace tether::rpc
