// ApiError.cpp - decoding metav1.Status.
#include "server/kube/ApiError.hpp"

#include <boost/json.hpp>

namespace tether::kube {

namespace json = boost::json;

const char* toString(ApiReason reason) {
  switch (reason) {
    case ApiReason::NotFound:
      return "NotFound";
    case ApiReason::AlreadyExists:
      return "AlreadyExists";
    case ApiReason::Conflict:
      return "Conflict";
    case ApiReason::Forbidden:
      return "Forbidden";
    case ApiReason::Unauthorized:
      return "Unauthorized";
    case ApiReason::Invalid:
      return "Invalid";
    case ApiReason::Expired:
      return "Expired";
    case ApiReason::Timeout:
      return "Timeout";
    case ApiReason::Unavailable:
      return "ServiceUnavailable";
    case ApiReason::TooManyRequests:
      return "TooManyRequests";
    case ApiReason::BadRequest:
      return "BadRequest";
    case ApiReason::UnsupportedMediaType:
      return "UnsupportedMediaType";
    case ApiReason::Transport:
      return "Transport";
    case ApiReason::Other:
      return "Error";
  }
  return "Error";
}

std::string ApiError::describe() const {
  std::string text = std::string(toString(reason)) + ": " + message;
  for (const auto& cause : causes) {
    if (!cause.field.empty() && message.find(cause.field) == std::string::npos)
      text += "; " + cause.field + ": " + cause.message;
  }
  return text + " (" + verb + " " + path + ")";
}

namespace {
ApiReason reasonFor(long status, const std::string& reason) {
  if (reason == "NotFound") return ApiReason::NotFound;
  if (reason == "AlreadyExists") return ApiReason::AlreadyExists;
  if (reason == "Conflict") return ApiReason::Conflict;
  if (reason == "Forbidden") return ApiReason::Forbidden;
  if (reason == "Unauthorized") return ApiReason::Unauthorized;
  if (reason == "Invalid") return ApiReason::Invalid;
  if (reason == "Expired" || reason == "Gone") return ApiReason::Expired;
  if (reason == "Timeout" || reason == "ServerTimeout") return ApiReason::Timeout;
  if (reason == "ServiceUnavailable") return ApiReason::Unavailable;
  if (reason == "TooManyRequests") return ApiReason::TooManyRequests;
  if (reason == "BadRequest") return ApiReason::BadRequest;
  if (reason == "UnsupportedMediaType") return ApiReason::UnsupportedMediaType;
  switch (status) {
    case 400:
      return ApiReason::BadRequest;
    case 401:
      return ApiReason::Unauthorized;
    case 403:
      return ApiReason::Forbidden;
    case 404:
      return ApiReason::NotFound;
    case 409:
      return ApiReason::Conflict;
    case 410:
      return ApiReason::Expired;
    case 415:
      return ApiReason::UnsupportedMediaType;
    case 422:
      return ApiReason::Invalid;
    case 429:
      return ApiReason::TooManyRequests;
    case 503:
      return ApiReason::Unavailable;
    case 504:
      return ApiReason::Timeout;
    default:
      return ApiReason::Other;
  }
}
}  // namespace

ApiError apiErrorFrom(const HttpResponse& response, const std::string& verb, const std::string& path) {
  ApiError error;
  error.verb = verb;
  error.path = path;
  error.httpStatus = response.status;
  if (!response.transportError.empty()) {
    error.reason = ApiReason::Transport;
    error.message = response.transportError;
    return error;
  }
  std::string reason;
  boost::system::error_code ec;
  const auto value = json::parse(response.body, ec);
  if (!ec && value.is_object() && value.get_object().contains("kind") && value.at("kind") == "Status") {
    const auto& status = value.get_object();
    if (const auto* message = status.if_contains("message"); message && message->is_string())
      error.message = message->get_string();
    if (const auto* r = status.if_contains("reason"); r && r->is_string()) reason = r->get_string();
    if (const auto* details = status.if_contains("details"); details && details->is_object()) {
      if (const auto* causes = details->get_object().if_contains("causes"); causes && causes->is_array()) {
        for (const auto& cause : causes->get_array()) {
          if (!cause.is_object()) continue;
          StatusCause item;
          const auto& c = cause.get_object();
          if (const auto* x = c.if_contains("reason"); x && x->is_string()) item.reason = x->get_string();
          if (const auto* x = c.if_contains("message"); x && x->is_string()) item.message = x->get_string();
          if (const auto* x = c.if_contains("field"); x && x->is_string()) item.field = x->get_string();
          error.causes.push_back(std::move(item));
        }
      }
    }
  } else {
    // Not a Status (a proxy's HTML page, garbage, a truncated body): keep a short, printable excerpt.
    std::string excerpt = response.body.substr(0, 200);
    for (auto& c : excerpt) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\n') c = ' ';
    }
    error.message = "the server answered HTTP " + std::to_string(response.status) +
                    (excerpt.empty() ? std::string() : ": " + excerpt);
  }
  error.reason = reasonFor(response.status, reason);
  if (error.message.empty()) error.message = "HTTP " + std::to_string(response.status);
  return error;
}

}  // namespace tether::kube
