// ErrorCodes.hpp - the JSON-RPC 2.0 and LSP error codes Tether answers with, and the error
// categories carried in `error.data.category`.
//
// One list, so the dispatcher, the IDE adapter and PROTOCOL.md speak of the same numbers.
#pragma once

#include <string_view>

namespace tether::jsonrpc {

enum class ErrorCode : int {
  // JSON-RPC 2.0.
  ParseError = -32700,
  InvalidRequest = -32600,
  MethodNotFound = -32601,
  InvalidParams = -32602,
  InternalError = -32603,
  // LSP base protocol.
  ServerNotInitialized = -32002,
  UnknownErrorCode = -32001,
  RequestFailed = -32803,
  ServerCancelled = -32802,
  ContentModified = -32801,
  RequestCancelled = -32800,
};

constexpr int toInt(ErrorCode code) {
  return static_cast<int>(code);
}

// Who has to act on an error: the IDE shows `user` and `config` errors as they are, offers
// "Open log" for `cluster` and `internal` ones (telepresence's errcat idea).
enum class ErrorCategory { User, Config, Cluster, Internal };

constexpr std::string_view toString(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::User:
      return "user";
    case ErrorCategory::Config:
      return "config";
    case ErrorCategory::Cluster:
      return "cluster";
    case ErrorCategory::Internal:
      return "internal";
  }
  return "internal";
}

}  // namespace tether::jsonrpc
