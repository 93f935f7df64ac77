// Methods.hpp - typed params and results of the tether/* methods (PROTOCOL.md is the contract).
//
// Plain structs with toJson/fromJson free functions, clangd's Protocol.h style. Field names follow
// the JSON (camelCase) so a reader can hold this file beside PROTOCOL.md. fromJson throws
// jsonrpc::InvalidParamsError naming the JSON path of the first bad field.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace tether::protocol {

// Bumped when a method changes incompatibly; clients compare it with the one they were built for.
inline constexpr int kProtocolVersion = 1;

// NOLINTBEGIN(readability-identifier-naming): field names mirror the JSON on the wire.
struct VersionResult {
  std::string name;
  std::string version;
  int protocolVersion = kProtocolVersion;
  std::string buildType;
};
// NOLINTEND(readability-identifier-naming)

boost::json::value toJson(const VersionResult& result);

// `initialize` params: only what the server uses (processId to notice a dead IDE, clientInfo for logs,
// the work-done-progress capability). This struct does not mirror the whole LSP InitializeParams.
struct ClientInfo {
  std::string name;
  std::optional<std::string> version;
};

struct InitializeParams {
  std::optional<std::int64_t> processId;
  std::optional<ClientInfo> clientInfo;
  bool workDoneProgress = false;
};

InitializeParams initializeParamsFromJson(const boost::json::value& params);

}  // namespace tether::protocol
