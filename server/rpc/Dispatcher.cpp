// Dispatcher.cpp - message routing, lifecycle gating, exactly-once replies and cancellation.
#include "server/rpc/Dispatcher.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include "protocol/jsonrpc/ParamReader.hpp"
#include "server/rpc/RpcError.hpp"

namespace tether::rpc {

namespace json = boost::json;
using jsonrpc::ErrorCode;

namespace {
constexpr std::string_view kInitialize = "initialize";
constexpr std::string_view kShutdown = "shutdown";
constexpr std::string_view kExit = "exit";
constexpr std::string_view kCancelRequest = "$/cancelRequest";
}  // namespace

Dispatcher::Dispatcher(Outgoing& out, DispatcherOptions options) : out_(out), options_(options) {}

void Dispatcher::method(std::string name, RequestHandler handler) {
  methods_[std::move(name)] = std::move(handler);
}

void Dispatcher::notification(std::string name, NotificationHandler handler) {
  notifications_[std::move(name)] = std::move(handler);
}

std::vector<std::string> Dispatcher::methodNames() const {
  std::vector<std::string> names;
  names.reserve(methods_.size());
  for (const auto& [name, handler] : methods_) names.push_back(name);
  return names;
}

LifecycleState Dispatcher::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

bool Dispatcher::shutdownRequested() const {
  std::lock_guard lock(mutex_);
  return shutdownRequested_;
}

void Dispatcher::replyError(std::optional<jsonrpc::Id> id, ErrorCode code, std::string message) {
  spdlog::debug("--> error {} {}", jsonrpc::toInt(code), message);
  out_.send(jsonrpc::Message{jsonrpc::makeError(std::move(id), code, std::move(message))});
}

void Dispatcher::onFramingError(std::string_view description) {
  spdlog::error("framing error: {}", description);
}

bool Dispatcher::onFrame(std::string_view body) {
  auto parsed = jsonrpc::parseMessage(body);
  if (auto* failure = std::get_if<jsonrpc::MessageError>(&parsed)) {
    spdlog::warn("rejected message ({}): {:.200}", failure->message, body);
    replyError(failure->id, failure->code, failure->message);
    return true;
  }
  auto& message = std::get<jsonrpc::Message>(parsed);
  if (auto* request = std::get_if<jsonrpc::Request>(&message)) return onRequest(std::move(*request));
  if (auto* notification = std::get_if<jsonrpc::Notification>(&message)) return onNotification(*notification);
  onResponse(std::get<jsonrpc::Response>(message));
  return true;
}

bool Dispatcher::onRequest(jsonrpc::Request request) {
  spdlog::debug("<-- {}({})", request.method, jsonrpc::toString(request.id));
  const auto key = jsonrpc::toString(request.id);
  auto pending = std::make_shared<PendingRequest>();
  pending->id = request.id;
  pending->method = request.method;
  pending->received = std::chrono::steady_clock::now();
  pending->out = &out_;
  pending->onAnswered = [this, method = request.method, id = request.id](const jsonrpc::Response& response) {
    afterAnswer(method, id, response);
  };

  // The lifecycle decisions are taken under the lock, the answers sent outside it.
  std::optional<std::pair<ErrorCode, std::string>> refusal;
  {
    std::lock_guard lock(mutex_);
    if (state_ == LifecycleState::ShuttingDown) {
      refusal = {ErrorCode::InvalidRequest, "the server is shutting down; only `exit` is accepted"};
    } else if (request.method == kInitialize) {
      if (state_ != LifecycleState::Uninitialized) {
        refusal = {ErrorCode::InvalidRequest, "initialize may be sent only once"};
      } else {
        state_ = LifecycleState::Initializing;
      }
    } else if (state_ != LifecycleState::Initialized) {
      refusal = {ErrorCode::ServerNotInitialized,
                 "the server is not initialized: send `initialize` and wait for its answer first"};
    } else if (pending_.count(key) != 0) {
      refusal = {ErrorCode::InvalidRequest, "request id " + key + " is already used by a pending request"};
    } else if (request.method == kShutdown) {
      state_ = LifecycleState::ShuttingDown;
      shutdownRequested_ = true;
    }
    if (!refusal) pending_[key] = pending;
  }
  if (refusal) {
    replyError(request.id, refusal->first, std::move(refusal->second));
    return true;
  }

  const auto handler = methods_.find(request.method);
  if (handler == methods_.end()) {
    pending->answer(
        jsonrpc::makeError(request.id, ErrorCode::MethodNotFound, "method not found: " + request.method));
    return true;
  }
  try {
    handler->second(request.params, ReplyOnce(pending));
  } catch (const jsonrpc::InvalidParamsError& error) {
    pending->answer(jsonrpc::makeError(request.id, ErrorCode::InvalidParams, error.what()));
  } catch (const RpcError& error) {
    pending->answer(
        jsonrpc::Response{request.id, jsonrpc::ResponseError{error.code(), error.what(), error.data()}});
  } catch (const std::exception& error) {
    spdlog::error("handler for {} threw: {}", request.method, error.what());
    pending->answer(jsonrpc::makeError(request.id, ErrorCode::InternalError,
                                       "internal error in " + request.method + ": " + error.what()));
  }
  return true;
}

void Dispatcher::afterAnswer(const std::string& method, const jsonrpc::Id& id,
                             const jsonrpc::Response& response) {
  std::lock_guard lock(mutex_);
  pending_.erase(jsonrpc::toString(id));
  if (method == kInitialize && state_ == LifecycleState::Initializing) {
    state_ = response.isError() ? LifecycleState::Uninitialized : LifecycleState::Initialized;
  }
}

bool Dispatcher::onNotification(const jsonrpc::Notification& notification) {
  spdlog::debug("<-- {}", notification.method);
  if (notification.method == kExit) {
    spdlog::info("exit received{}", shutdownRequested() ? "" : " without shutdown");
    return false;
  }
  if (notification.method == kCancelRequest) {
    onCancelRequest(notification.params);
    return true;
  }
  const auto state = this->state();
  if (state == LifecycleState::Uninitialized || state == LifecycleState::Initializing) {
    spdlog::warn("dropping notification {} sent before initialize", notification.method);
    return true;
  }
  if (state == LifecycleState::ShuttingDown) {
    spdlog::debug("dropping notification {} sent after shutdown", notification.method);
    return true;
  }
  const auto handler = notifications_.find(notification.method);
  if (handler == notifications_.end()) {
    // `$/` notifications are optional by protocol; anything else unknown is worth a warning.
    if (notification.method.rfind("$/", 0) == 0) {
      spdlog::debug("ignoring optional notification {}", notification.method);
    } else {
      spdlog::warn("ignoring unknown notification {}", notification.method);
    }
    return true;
  }
  try {
    handler->second(notification.params);
  } catch (const std::exception& error) {
    spdlog::error("notification {} failed: {}", notification.method, error.what());
  }
  return true;
}

void Dispatcher::onCancelRequest(const json::value& params) {
  std::optional<jsonrpc::Id> id;
  if (params.is_object()) {
    if (const auto* value = params.get_object().if_contains("id")) {
      if (value->is_int64()) id = value->get_int64();
      if (value->is_string()) id = std::string(value->get_string());
    }
  }
  if (!id) {
    spdlog::warn("$/cancelRequest without a usable id: {}", json::serialize(params));
    return;
  }
  std::shared_ptr<PendingRequest> pending;
  {
    std::lock_guard lock(mutex_);
    const auto found = pending_.find(jsonrpc::toString(*id));
    if (found != pending_.end()) pending = found->second;
  }
  if (!pending) {
    spdlog::debug("$/cancelRequest for {}: nothing pending (already answered)", jsonrpc::toString(*id));
    return;
  }
  // Answer first so the client hears -32800 even if the work ignores its token for a while.
  if (pending->answer(jsonrpc::makeError(*id, ErrorCode::RequestCancelled, "request cancelled"))) {
    spdlog::info("cancelled {}({})", pending->method, jsonrpc::toString(*id));
  }
  pending->cancel.cancel();
}

void Dispatcher::call(std::string method, json::value params, ResponseCallback callback) {
  std::string id;
  std::optional<std::pair<std::string, ResponseCallback>> evicted;
  {
    std::lock_guard lock(mutex_);
    id = "tether-" + std::to_string(nextOutgoingId_++);
    outgoing_.emplace_back(id, std::move(callback));
    if (outgoing_.size() > options_.maxPendingOutgoingCalls) {
      evicted = std::move(outgoing_.front());
      outgoing_.pop_front();
    }
  }
  if (evicted) {
    spdlog::warn("client never answered server call {}; giving up on it", evicted->first);
    evicted->second(jsonrpc::makeError(jsonrpc::Id{evicted->first}, ErrorCode::RequestCancelled,
                                       "the client did not answer in time"));
  }
  spdlog::debug("--> call {}({})", method, id);
  out_.send(jsonrpc::Message{jsonrpc::Request{jsonrpc::Id{id}, std::move(method), std::move(params)}});
}

void Dispatcher::notify(std::string method, json::value params) {
  out_.send(jsonrpc::Message{jsonrpc::Notification{std::move(method), std::move(params)}});
}

void Dispatcher::onResponse(const jsonrpc::Response& response) {
  if (!response.id) {
    spdlog::warn("client reported an error about an unreadable message: {}",
                 response.isError() ? std::get<jsonrpc::ResponseError>(response.outcome).message : "");
    return;
  }
  ResponseCallback callback;
  {
    std::lock_guard lock(mutex_);
    const auto key = std::holds_alternative<std::string>(*response.id) ? std::get<std::string>(*response.id)
                                                                       : jsonrpc::toString(*response.id);
    for (auto it = outgoing_.begin(); it != outgoing_.end(); ++it) {
      if (it->first == key) {
        callback = std::move(it->second);
        outgoing_.erase(it);
        break;
      }
    }
  }
  if (!callback) {
    spdlog::warn("response to unknown server call {}", jsonrpc::toString(*response.id));
    return;
  }
  callback(response);
}

}  // namespace tether::rpc
