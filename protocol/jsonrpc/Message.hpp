// Message.hpp - the JSON-RPC 2.0 message model: requests, notifications, responses and errors.
//
// Parsing classifies one decoded frame; it never throws. A frame that is not a valid message becomes
// a `MessageError` carrying the error code to answer with and, when it could be read, the request id,
// so the dispatcher can answer exactly as JSON-RPC 2.0 prescribes (id null when the id is unknown).
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/jsonrpc/ErrorCodes.hpp"

namespace tether::jsonrpc {

// A request id: JSON-RPC allows numbers and strings. Fractional numbers and null are refused.
using Id = std::variant<std::int64_t, std::string>;

std::string toString(const Id& id);
boost::json::value toJson(const Id& id);

struct Request {
  Id id;
  std::string method;
  boost::json::value params;  // null when absent
};

struct Notification {
  std::string method;
  boost::json::value params;  // null when absent
};

struct ResponseError {
  int code = toInt(ErrorCode::InternalError);
  std::string message;
  boost::json::value data;  // null when absent
};

struct Response {
  std::optional<Id> id;  // nullopt is a JSON null id (an error about an unreadable request)
  std::variant<boost::json::value, ResponseError> outcome;

  bool isError() const { return std::holds_alternative<ResponseError>(outcome); }
};

using Message = std::variant<Request, Notification, Response>;

// Why a frame is not a message, and what to answer.
struct MessageError {
  ErrorCode code;
  std::string message;
  std::optional<Id> id;  // set when the frame was an object with a readable id
};

using ParseResult = std::variant<Message, MessageError>;

// Parses one frame body. Batches (JSON arrays) are refused with InvalidRequest: Tether's clients
// never send them, and answering them half-way would break the reply-exactly-once rule.
ParseResult parseMessage(std::string_view text);

// Classifies an already parsed JSON value (the fuzzer and the in-memory transport use this directly).
ParseResult classifyMessage(const boost::json::value& value);

boost::json::value toJson(const Message& message);
std::string serialize(const Message& message);

Response makeResult(Id id, boost::json::value result);
Response makeError(std::optional<Id> id, ErrorCode code, std::string message,
                   boost::json::value data = nullptr);

}  // namespace tether::jsonrpc
