// RpcError.hpp - an error a handler throws (synchronously) to answer its request with a JSON-RPC error.
#pragma once

#include <boost/json/value.hpp>

#include <stdexcept>
#include <string>

#include "protocol/jsonrpc/ErrorCodes.hpp"

namespace tether::rpc {

class RpcError : public std::runtime_error {
 public:
  RpcError(jsonrpc::ErrorCode code, std::string message, boost::json::value data = nullptr)
      : std::runtime_error(std::move(message)), code_(jsonrpc::toInt(code)), data_(std::move(data)) {}

  int code() const { return code_; }
  const boost::json::value& data() const { return data_; }

 private:
  int code_;
  boost::json::value data_;
};

}  // namespace tether::rpc
