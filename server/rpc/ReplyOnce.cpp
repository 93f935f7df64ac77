// ReplyOnce.cpp - exactly-once replies.
#include "server/rpc/ReplyOnce.hpp"

#include <spdlog/spdlog.h>

namespace tether::rpc {

bool PendingRequest::answer(jsonrpc::Response response) {
  if (answered.exchange(true, std::memory_order_acq_rel)) return false;
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - received);
  spdlog::debug("--> reply:{}({}) {}us{}", method, jsonrpc::toString(id), elapsed.count(),
                response.isError() ? " error" : "");
  out->send(jsonrpc::Message{response});
  if (onAnswered) onAnswered(response);
  return true;
}

ReplyOnce& ReplyOnce::operator=(ReplyOnce&& other) noexcept {
  if (this != &other) {
    if (pending_ && !pending_->answered.load()) {
      send(jsonrpc::makeError(pending_->id, jsonrpc::ErrorCode::InternalError,
                              "server failed to reply to " + pending_->method));
    }
    pending_ = std::move(other.pending_);
  }
  return *this;
}

ReplyOnce::~ReplyOnce() {
  if (std::uncaught_exceptions() > uncaughtAtStart_) return;
  if (pending_ && !pending_->answered.load()) {
    spdlog::error("request {}({}) was dropped without a reply", pending_->method,
                  jsonrpc::toString(pending_->id));
    send(jsonrpc::makeError(pending_->id, jsonrpc::ErrorCode::InternalError,
                            "server failed to reply to " + pending_->method));
  }
}

void ReplyOnce::send(jsonrpc::Response response) {
  if (!pending_) {
    spdlog::error("reply through a moved-from handle");
    return;
  }
  if (!pending_->answer(std::move(response))) {
    if (pending_->cancel.isCancelled()) {
      spdlog::debug("late reply to cancelled request {}({}) dropped", pending_->method,
                    jsonrpc::toString(pending_->id));
    } else {
      spdlog::error("second reply to {}({}) dropped", pending_->method, jsonrpc::toString(pending_->id));
    }
  }
}

void ReplyOnce::operator()(boost::json::value result) {
  send(jsonrpc::makeResult(pending_ ? pending_->id : jsonrpc::Id{0}, std::move(result)));
}

void ReplyOnce::error(jsonrpc::ErrorCode code, std::string message, boost::json::value data) {
  error(jsonrpc::toInt(code), std::move(message), std::move(data));
}

void ReplyOnce::error(int code, std::string message, boost::json::value data) {
  jsonrpc::Response response{pending_ ? std::optional<jsonrpc::Id>(pending_->id) : std::nullopt,
                             jsonrpc::ResponseError{code, std::move(message), std::move(data)}};
  send(std::move(response));
}

}  // namespace tether::rpc
