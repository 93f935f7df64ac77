// Progress.cpp - well-formed $/progress sequences and window messages.
#include "server/rpc/Progress.hpp"

#include <boost/json/object.hpp>

#include <algorithm>

namespace tether::rpc {

namespace json = boost::json;

WorkDoneProgress::WorkDoneProgress(Outgoing& out, std::optional<jsonrpc::Id> token)
    : out_(out), token_(std::move(token)) {}

WorkDoneProgress::~WorkDoneProgress() {
  if (state_ == State::Begun) end();
}

std::optional<jsonrpc::Id> WorkDoneProgress::tokenFrom(const json::value& params) {
  if (!params.is_object()) return std::nullopt;
  const auto* token = params.get_object().if_contains("workDoneToken");
  if (token == nullptr) return std::nullopt;
  if (token->is_int64()) return jsonrpc::Id{token->get_int64()};
  if (token->is_string()) return jsonrpc::Id{std::string(token->get_string())};
  return std::nullopt;
}

std::optional<int> WorkDoneProgress::clamp(std::optional<int> percentage) {
  if (!percentage) return std::nullopt;
  lastPercentage_ = std::max(lastPercentage_, std::clamp(*percentage, 0, 100));
  return lastPercentage_;
}

void WorkDoneProgress::send(json::object value) {
  if (!token_) return;
  out_.send(jsonrpc::Message{jsonrpc::Notification{
      "$/progress", json::object{{"token", jsonrpc::toJson(*token_)}, {"value", std::move(value)}}}});
}

void WorkDoneProgress::begin(std::string title, std::optional<std::string> message,
                             std::optional<int> percentage, bool cancellable) {
  if (state_ != State::NotBegun) return;
  state_ = State::Begun;
  json::object value{{"kind", "begin"}, {"title", std::move(title)}, {"cancellable", cancellable}};
  if (message) value["message"] = std::move(*message);
  if (auto clamped = clamp(percentage)) value["percentage"] = *clamped;
  send(std::move(value));
}

void WorkDoneProgress::report(std::string message, std::optional<int> percentage) {
  if (state_ != State::Begun) return;
  json::object value{{"kind", "report"}, {"message", std::move(message)}};
  if (auto clamped = clamp(percentage)) value["percentage"] = *clamped;
  send(std::move(value));
}

void WorkDoneProgress::end(std::optional<std::string> message) {
  if (state_ != State::Begun) return;
  state_ = State::Ended;
  json::object value{{"kind", "end"}};
  if (message) value["message"] = std::move(*message);
  send(std::move(value));
}

namespace {
void sendWindowMessage(Outgoing& out, std::string method, MessageType type, std::string message) {
  out.send(jsonrpc::Message{jsonrpc::Notification{
      std::move(method), json::object{{"type", static_cast<int>(type)}, {"message", std::move(message)}}}});
}
}  // namespace

void logMessage(Outgoing& out, MessageType type, std::string message) {
  sendWindowMessage(out, "window/logMessage", type, std::move(message));
}

void showMessage(Outgoing& out, MessageType type, std::string message) {
  sendWindowMessage(out, "window/showMessage", type, std::move(message));
}

}  // namespace tether::rpc
