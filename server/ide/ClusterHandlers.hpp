// ClusterHandlers.hpp - tether/contexts, tether/namespaces, tether/services: params decoded, the core
// queried on its worker pool (never on the protocol reader thread), results encoded.
#pragma once

#include <boost/json/value.hpp>

#include "protocol/jsonrpc/ParamReader.hpp"
#include "server/core/Backend.hpp"
#include "server/rpc/ReplyOnce.hpp"

namespace tether::ide {

void handleContexts(core::Backend& backend, const boost::json::value& params, rpc::ReplyOnce reply);
void handleNamespaces(core::Backend& backend, const boost::json::value& params, rpc::ReplyOnce reply);
void handleServices(core::Backend& backend, const boost::json::value& params, rpc::ReplyOnce reply);

// kubectl's --kubeconfig, --context and -n as every cluster method takes them: kubeconfig?, context?,
// namespace?.
core::ConnectionOptions connectionOf(const jsonrpc::ParamReader& params);

// The JSON-RPC error data's `category` for a core error.
const char* categoryName(core::ErrorCategory category);

// RequestFailed's error.data for a core error: category and hint, and reason and field when one thing
// resolves it.
boost::json::object errorData(const core::Error& error);

// Runs `work` on the backend's pool and answers with its result, or with RequestFailed + error.data
// for a core::Error, or InternalError for anything else.
void answerOnWorker(core::Backend& backend, rpc::ReplyOnce reply, std::function<boost::json::value()> work);

}  // namespace tether::ide
