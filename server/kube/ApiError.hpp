// ApiError.hpp - Kubernetes Status answers and transport failures as one typed error.
//
// The server's message is kept verbatim (kubectl prints it too); `reason` lets callers branch on
// NotFound/Conflict/... without parsing text.
#pragma once

#include <string>
#include <vector>

#include "server/kube/Http.hpp"

namespace tether::kube {

enum class ApiReason {
  NotFound,
  AlreadyExists,
  Conflict,
  Forbidden,
  Unauthorized,
  Invalid,
  Expired,
  Timeout,
  Unavailable,
  TooManyRequests,
  BadRequest,
  UnsupportedMediaType,
  Transport,
  Other
};

struct StatusCause {
  std::string reason;
  std::string message;
  std::string field;
};

struct ApiError {
  ApiReason reason = ApiReason::Other;
  long httpStatus = 0;
  std::string message;  // the server's Status message, or the transport's description
  std::vector<StatusCause> causes;
  std::string verb;  // GET, POST, ...
  std::string path;

  // "Forbidden: services \"orders\" is forbidden: User ... (PATCH /api/v1/...)"
  std::string describe() const;
};

const char* toString(ApiReason reason);

// Builds the error for a response that is not 2xx (or never arrived).
ApiError apiErrorFrom(const HttpResponse& response, const std::string& verb, const std::string& path);

}  // namespace tether::kube
