// Dispatcher.hpp - routes decoded messages to handlers and enforces the base-protocol rules.
//
// The cross-cutting concerns of clangd's MessageHandler live here, in one place:
//  - lifecycle: requests before `initialize` get -32002, requests after `shutdown` get InvalidRequest,
//    `exit` ends the loop with exit code 0 after `shutdown` and 1 otherwise;
//  - exactly-once replies through ReplyOnce, with latency logged per method;
//  - `$/cancelRequest`: the request is answered -32800 at once and its token fires;
//  - malformed input: -32700 / -32600 / -32601 / -32602 answers, and the server keeps serving;
//  - server->client calls with a bounded table of pending replies.
// Handlers are registered by the adapter (server/ide) in one method table; this class knows no method
// of its own except the lifecycle and `$/` ones.
//
// Threading: onFrame runs on the transport's reader thread. Handlers run there too and must not block:
// long work is posted elsewhere and replies later, from any thread.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "protocol/jsonrpc/Message.hpp"
#include "server/rpc/ReplyOnce.hpp"
#include "server/rpc/Transport.hpp"

namespace tether::rpc {

struct DispatcherOptions {
  // Server->client calls awaiting a reply; on overflow the oldest is failed (a silent client cannot leak
  // memory).
  std::size_t maxPendingOutgoingCalls = 100;
};

enum class LifecycleState { Uninitialized, Initializing, Initialized, ShuttingDown };

class Dispatcher : public FrameHandler {
 public:
  using RequestHandler = std::function<void(const boost::json::value& params, ReplyOnce reply)>;
  using NotificationHandler = std::function<void(const boost::json::value& params)>;
  using ResponseCallback = std::function<void(const jsonrpc::Response& response)>;

  explicit Dispatcher(Outgoing& out, DispatcherOptions options = {});

  // The method table. `initialize` and `shutdown` are registered like any method; the dispatcher
  // applies the lifecycle rules around them.
  void method(std::string name, RequestHandler handler);
  void notification(std::string name, NotificationHandler handler);
  std::vector<std::string> methodNames() const;

  // Server -> client.
  void call(std::string method, boost::json::value params, ResponseCallback callback);
  void notify(std::string method, boost::json::value params);
  // The sending half, for helpers that write on their own ($/progress).
  Outgoing& outgoing() { return out_; }

  bool onFrame(std::string_view body) override;
  void onFramingError(std::string_view description) override;

  LifecycleState state() const;
  bool shutdownRequested() const;
  int exitCode() const { return shutdownRequested() ? 0 : 1; }

 private:
  bool onRequest(jsonrpc::Request request);
  bool onNotification(const jsonrpc::Notification& notification);
  void onResponse(const jsonrpc::Response& response);
  void onCancelRequest(const boost::json::value& params);
  void afterAnswer(const std::string& method, const jsonrpc::Id& id, const jsonrpc::Response& response);
  void replyError(std::optional<jsonrpc::Id> id, jsonrpc::ErrorCode code, std::string message);

  Outgoing& out_;
  DispatcherOptions options_;
  std::map<std::string, RequestHandler, std::less<>> methods_;
  std::map<std::string, NotificationHandler, std::less<>> notifications_;

  mutable std::mutex mutex_;  // guards everything below
  LifecycleState state_ = LifecycleState::Uninitialized;
  bool shutdownRequested_ = false;
  std::map<std::string, std::shared_ptr<PendingRequest>> pending_;  // keyed by toString(id)
  std::uint64_t nextOutgoingId_ = 1;
  std::deque<std::pair<std::string, ResponseCallback>> outgoing_;
};

}  // namespace tether::rpc
