// Progress.hpp - work-done progress (`$/progress` begin/report/end) for one request.
//
// The client opts in per request by sending `params.workDoneToken` (LSP's client-initiated progress);
// without a token every call is a no-op, so handlers report unconditionally. The helper keeps the
// sequence well-formed whatever the caller does: nothing before `begin`, percentages clamped to 0..100
// and never decreasing, exactly one `end` (sent by the destructor if the caller forgot).
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>

#include "protocol/jsonrpc/Message.hpp"
#include "server/rpc/Transport.hpp"

namespace tether::rpc {

class WorkDoneProgress {
 public:
  WorkDoneProgress(Outgoing& out, std::optional<jsonrpc::Id> token);
  WorkDoneProgress(const WorkDoneProgress&) = delete;
  WorkDoneProgress& operator=(const WorkDoneProgress&) = delete;
  ~WorkDoneProgress();

  // Reads `workDoneToken` from request params; nullopt when absent or not an integer/string.
  static std::optional<jsonrpc::Id> tokenFrom(const boost::json::value& params);

  void begin(std::string title, std::optional<std::string> message = std::nullopt,
             std::optional<int> percentage = std::nullopt, bool cancellable = false);
  void report(std::string message, std::optional<int> percentage = std::nullopt);
  void end(std::optional<std::string> message = std::nullopt);

  bool active() const { return state_ == State::Begun; }

 private:
  enum class State { NotBegun, Begun, Ended };
  void send(boost::json::object value);
  std::optional<int> clamp(std::optional<int> percentage);

  Outgoing& out_;
  std::optional<jsonrpc::Id> token_;
  State state_ = State::NotBegun;
  int lastPercentage_ = 0;
};

// window/logMessage and window/showMessage (MessageType: 1 error, 2 warning, 3 info, 4 log).
enum class MessageType { Error = 1, Warning = 2, Info = 3, Log = 4 };
void logMessage(Outgoing& out, MessageType type, std::string message);
void showMessage(Outgoing& out, MessageType type, std::string message);

}  // namespace tether::rpc
