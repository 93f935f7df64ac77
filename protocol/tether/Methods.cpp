// Methods.cpp - JSON conversions of the tether/* params and results.
#include "protocol/tether/Methods.hpp"

#include <boost/json/object.hpp>

#include "protocol/jsonrpc/ParamReader.hpp"

namespace tether::protocol {

namespace json = boost::json;

json::value toJson(const VersionResult& result) {
  return json::object{{"name", result.name},
                      {"version", result.version},
                      {"protocolVersion", result.protocolVersion},
                      {"buildType", result.buildType}};
}

InitializeParams initializeParamsFromJson(const json::value& params) {
  const jsonrpc::ParamReader reader(params);
  InitializeParams result;
  // processId is "integer | null" in LSP; null and absent both mean "no parent to watch".
  result.processId = reader.optionalInteger("processId");
  if (reader.has("clientInfo")) {
    const auto info = reader.object("clientInfo");
    result.clientInfo = ClientInfo{info.requiredString("name"), info.optionalString("version")};
  }
  const auto capabilities = reader.object("capabilities");
  result.workDoneProgress = capabilities.object("window").optionalBool("workDoneProgress").value_or(false);
  return result;
}

}  // namespace tether::protocol
