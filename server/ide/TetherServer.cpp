// TetherServer.cpp - the method table and its handlers.
#include "server/ide/TetherServer.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "protocol/jsonrpc/ParamReader.hpp"
#include "protocol/tether/Methods.hpp"
#include "server/ide/ClusterHandlers.hpp"
#include "server/ide/SessionHandlers.hpp"
#include "server/ide/SessionJson.hpp"

namespace tether::ide {

namespace json = boost::json;

TetherServer::TetherServer(rpc::Dispatcher& dispatcher, std::function<bool(int pid)> watchClient)
    : dispatcher_(dispatcher), watchClient_(std::move(watchClient)), backend_(this) {
  bindMethods();
}

void TetherServer::bindMethods() {
  // Member-function adapters, so each line of the table below has the same shape.
  auto request = [this](void (TetherServer::*handler)(const json::value&, rpc::ReplyOnce)) {
    return [this, handler](const json::value& params, rpc::ReplyOnce reply) {
      (this->*handler)(params, std::move(reply));
    };
  };
  auto notification = [this](void (TetherServer::*handler)(const json::value&)) {
    return [this, handler](const json::value& params) { (this->*handler)(params); };
  };
  auto& d = dispatcher_;
  // The whole protocol surface, one line per method. PROTOCOL.md documents each; a test fails if they drift.
  // clang-format off
  d.method      ("initialize",        request(&TetherServer::onInitialize));
  d.notification("initialized",       notification(&TetherServer::onInitialized));
  d.method      ("shutdown",          request(&TetherServer::onShutdown));
  d.method      ("tether/version",    request(&TetherServer::onVersion));
  d.method      ("tether/contexts",   request(&TetherServer::onContexts));
  d.method      ("tether/namespaces", request(&TetherServer::onNamespaces));
  d.method      ("tether/services",   request(&TetherServer::onServices));
  d.method      ("tether/session/start", request(&TetherServer::onSessionStart));
  d.method      ("tether/session/stop",  request(&TetherServer::onSessionStop));
  d.method      ("tether/session/list",  request(&TetherServer::onSessionList));
  d.method      ("tether/clean",         request(&TetherServer::onClean));
  d.method      ("tether/recover",       request(&TetherServer::onRecover));
  // clang-format on
}

json::value TetherServer::capabilities() const {
  // Derived from the method table, so the advertised list cannot disagree with what is bound.
  json::array methods;
  for (const auto& name : dispatcher_.methodNames()) {
    if (name.rfind("tether/", 0) == 0) methods.emplace_back(name);
  }
  return json::object{{"tether", json::object{{"protocolVersion", protocol::kProtocolVersion},
                                              {"methods", std::move(methods)}}}};
}

void TetherServer::onInitialize(const json::value& params, rpc::ReplyOnce reply) {
  const auto parsed = protocol::initializeParamsFromJson(params);
  spdlog::info("initialize from {} {} (pid {})",
               parsed.clientInfo ? parsed.clientInfo->name : "an unnamed client",
               parsed.clientInfo && parsed.clientInfo->version ? *parsed.clientInfo->version : "",
               parsed.processId ? std::to_string(*parsed.processId) : "none");
  if (parsed.processId && watchClient_) watchClient_(static_cast<int>(*parsed.processId));
  const auto info = backend_.version();
  reply(json::object{{"serverInfo", json::object{{"name", info.name}, {"version", info.version}}},
                     {"capabilities", capabilities()}});
}

void TetherServer::onInitialized(const json::value& /*params*/) {
  spdlog::debug("client confirmed initialization");
}

void TetherServer::onShutdown(const json::value& /*params*/, rpc::ReplyOnce reply) {
  backend_.shutdown();
  reply(nullptr);
}

void TetherServer::onVersion(const json::value& params, rpc::ReplyOnce reply) {
  [[maybe_unused]] const jsonrpc::ParamReader shape(params);  // absent, null or an object; else -32602
  const auto info = backend_.version();
  reply(protocol::toJson(
      protocol::VersionResult{info.name, info.version, protocol::kProtocolVersion, info.buildType}));
}

void TetherServer::onContexts(const json::value& params, rpc::ReplyOnce reply) {
  handleContexts(backend_, params, std::move(reply));
}

void TetherServer::onNamespaces(const json::value& params, rpc::ReplyOnce reply) {
  handleNamespaces(backend_, params, std::move(reply));
}

void TetherServer::onServices(const json::value& params, rpc::ReplyOnce reply) {
  handleServices(backend_, params, std::move(reply));
}

void TetherServer::onSessionStart(const json::value& params, rpc::ReplyOnce reply) {
  handleSessionStart(backend_, dispatcher_.outgoing(), params, std::move(reply));
}

void TetherServer::onSessionStop(const json::value& params, rpc::ReplyOnce reply) {
  handleSessionStop(backend_, params, std::move(reply));
}

void TetherServer::onSessionList(const json::value& params, rpc::ReplyOnce reply) {
  handleSessionList(backend_, params, std::move(reply));
}

void TetherServer::onClean(const json::value& params, rpc::ReplyOnce reply) {
  handleClean(backend_, params, std::move(reply));
}

void TetherServer::onRecover(const json::value& params, rpc::ReplyOnce reply) {
  handleRecover(backend_, params, std::move(reply));
}

// Called from session threads; Dispatcher::notify is thread-safe.
void TetherServer::onSessionChanged(const core::SessionView& session) {
  dispatcher_.notify("tether/sessionChanged", json::object{{"session", sessionToJson(session)}});
}

void TetherServer::onLog(std::string_view message) {
  spdlog::info("core: {}", message);
}

}  // namespace tether::ide
