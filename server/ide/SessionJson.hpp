// SessionJson.hpp - a session and a clean report as PROTOCOL.md spells them; used by the JSON-RPC methods
// and by the CLI's `--output json`, so both say the same thing.
#pragma once

#include <boost/json/value.hpp>

#include "server/core/SessionTypes.hpp"

namespace tether::ide {

boost::json::object sessionToJson(const core::SessionView& session);
boost::json::object cleanToJson(const core::CleanResult& result);
boost::json::object cleanActionToJson(const session::CleanAction& action);

// The notes the IDE shows beside the launch environment: which clients honour the proxy variables.
const std::vector<std::string>& launchNotes();

}  // namespace tether::ide
