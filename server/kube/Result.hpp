// Result.hpp - a value or an ApiError: how the client reports expected failures (NotFound, Conflict, ...).
#pragma once

#include <optional>
#include <utility>
#include <variant>

#include "server/kube/ApiError.hpp"

namespace tether::kube {

template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}         // NOLINT: implicit on purpose, like std::expected
  Result(ApiError error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const ApiError& error() const { return std::get<ApiError>(state_); }
  bool is(ApiReason reason) const { return !ok() && error().reason == reason; }

 private:
  std::variant<T, ApiError> state_;
};

}  // namespace tether::kube
