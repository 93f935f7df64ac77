// SessionHandlers.hpp - tether/session/start|stop|list, tether/clean, tether/recover: params decoded into
// core calls run on the backend's pool, results encoded as PROTOCOL.md spells them.
#pragma once

#include <boost/json/value.hpp>

#include "server/core/Backend.hpp"
#include "server/rpc/ReplyOnce.hpp"
#include "server/rpc/Transport.hpp"

namespace tether::ide {

void handleSessionStart(core::Backend& backend, rpc::Outgoing& out, const boost::json::value& params,
                        rpc::ReplyOnce reply);
void handleSessionStop(core::Backend& backend, const boost::json::value& params, rpc::ReplyOnce reply);
void handleSessionList(core::Backend& backend, const boost::json::value& params, rpc::ReplyOnce reply);
void handleClean(core::Backend& backend, const boost::json::value& params, rpc::ReplyOnce reply);
void handleRecover(core::Backend& backend, const boost::json::value& params, rpc::ReplyOnce reply);

}  // namespace tether::ide
