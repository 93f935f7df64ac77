// Message.cpp - parsing and serialising JSON-RPC 2.0 envelopes.
#include "protocol/jsonrpc/Message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <limits>

namespace tether::jsonrpc {

namespace json = boost::json;

std::string toString(const Id& id) {
  if (const auto* number = std::get_if<std::int64_t>(&id)) return std::to_string(*number);
  return "\"" + std::get<std::string>(id) + "\"";
}

json::value toJson(const Id& id) {
  if (const auto* number = std::get_if<std::int64_t>(&id)) return *number;
  return json::string(std::get<std::string>(id));
}

namespace {

// Reads an id; nullopt means "present but not an integer or a string".
std::optional<Id> readId(const json::value& value) {
  if (value.is_int64()) return Id{value.get_int64()};
  if (value.is_uint64()) {
    const auto number = value.get_uint64();
    if (number <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Id{static_cast<std::int64_t>(number)};
    }
    return std::nullopt;
  }
  if (value.is_string()) return Id{std::string(value.get_string())};
  return std::nullopt;
}

MessageError invalid(std::string message, std::optional<Id> id = std::nullopt) {
  return MessageError{ErrorCode::InvalidRequest, std::move(message), std::move(id)};
}

ParseResult classifyResponse(const json::object& object, std::optional<Id> id) {
  const auto* result = object.if_contains("result");
  const auto* error = object.if_contains("error");
  if ((result != nullptr) == (error != nullptr)) {
    return invalid("a response needs exactly one of \"result\" and \"error\"", id);
  }
  Response response;
  response.id = std::move(id);
  if (result != nullptr) {
    response.outcome = *result;
    return Message{std::move(response)};
  }
  if (!error->is_object()) return invalid("\"error\" must be an object", response.id);
  const auto& errorObject = error->get_object();
  ResponseError responseError;
  if (const auto* code = errorObject.if_contains("code"); code != nullptr && code->is_int64()) {
    const auto number = code->get_int64();
    if (number < std::numeric_limits<int>::min() || number > std::numeric_limits<int>::max()) {
      return invalid("\"error.code\" is out of range", response.id);
    }
    responseError.code = static_cast<int>(number);
  } else {
    return invalid("\"error.code\" must be an integer", response.id);
  }
  if (const auto* text = errorObject.if_contains("message"); text != nullptr && text->is_string()) {
    responseError.message = std::string(text->get_string());
  } else {
    return invalid("\"error.message\" must be a string", response.id);
  }
  if (const auto* data = errorObject.if_contains("data")) responseError.data = *data;
  response.outcome = std::move(responseError);
  return Message{std::move(response)};
}

}  // namespace

ParseResult classifyMessage(const json::value& value) {
  if (value.is_array()) {
    return invalid("batch requests are not supported; send one message per frame");
  }
  if (!value.is_object()) return invalid("a message must be a JSON object");
  const auto& object = value.get_object();

  std::optional<Id> id;
  const auto* idValue = object.if_contains("id");
  bool idUnreadable = false;
  if (idValue != nullptr && !idValue->is_null()) {
    id = readId(*idValue);
    idUnreadable = !id.has_value();
  }

  const auto* version = object.if_contains("jsonrpc");
  if (version == nullptr || !version->is_string() || version->get_string() != "2.0") {
    return invalid("\"jsonrpc\" must be \"2.0\"", id);
  }
  if (idUnreadable) return invalid("\"id\" must be an integer or a string");

  const auto* method = object.if_contains("method");
  if (method == nullptr) {
    if (idValue == nullptr) return invalid("a message needs a \"method\" or an \"id\"");
    return classifyResponse(object, std::move(id));
  }
  if (!method->is_string()) return invalid("\"method\" must be a string", id);
  if (method->get_string().empty()) return invalid("\"method\" must not be empty", id);

  json::value params;
  // `"params": null` is not strictly JSON-RPC 2.0, but some clients send it for "no params"; it reads as
  // absent.
  if (const auto* given = object.if_contains("params"); given != nullptr && !given->is_null()) {
    if (!given->is_object() && !given->is_array()) {
      return invalid("\"params\" must be an object or an array", id);
    }
    params = *given;
  }
  if (idValue == nullptr) {
    return Message{Notification{std::string(method->get_string()), std::move(params)}};
  }
  if (!id) return invalid("a request id must not be null");
  return Message{Request{std::move(*id), std::string(method->get_string()), std::move(params)}};
}

ParseResult parseMessage(std::string_view text) {
  boost::system::error_code ec;
  // Boost.JSON bounds nesting depth (32 by default), so hostile input cannot exhaust the stack.
  json::value value = json::parse(text, ec);
  if (ec) return MessageError{ErrorCode::ParseError, "parse error: " + ec.message(), std::nullopt};
  return classifyMessage(value);
}

json::value toJson(const Message& message) {
  json::object object;
  object["jsonrpc"] = "2.0";
  if (const auto* request = std::get_if<Request>(&message)) {
    object["id"] = toJson(request->id);
    object["method"] = request->method;
    if (!request->params.is_null()) object["params"] = request->params;
  } else if (const auto* notification = std::get_if<Notification>(&message)) {
    object["method"] = notification->method;
    if (!notification->params.is_null()) object["params"] = notification->params;
  } else {
    const auto& response = std::get<Response>(message);
    object["id"] = response.id ? toJson(*response.id) : json::value(nullptr);
    if (const auto* error = std::get_if<ResponseError>(&response.outcome)) {
      json::object errorObject{{"code", error->code}, {"message", error->message}};
      if (!error->data.is_null()) errorObject["data"] = error->data;
      object["error"] = std::move(errorObject);
    } else {
      object["result"] = std::get<json::value>(response.outcome);
    }
  }
  return object;
}

std::string serialize(const Message& message) {
  return json::serialize(toJson(message));
}

Response makeResult(Id id, json::value result) {
  return Response{std::move(id), std::move(result)};
}

Response makeError(std::optional<Id> id, ErrorCode code, std::string message, json::value data) {
  return Response{std::move(id), ResponseError{toInt(code), std::move(message), std::move(data)}};
}

}  // namespace tether::jsonrpc
