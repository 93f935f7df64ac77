// TetherServer.cpp - the method table and its handlers.
#include "server/ide/TetherServer.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <spdlog/spdlog.h>

#include "protocol/jsonrpc/ParamReader.hpp"
#include "protocol/tether/Methods.hpp"
#include "server/ide/ClusterHandlers.hpp"

namespace tether::ide {

namespace json = boost::json;

TetherServer::TetherServer(rpc::Dispatcher& dispatcher) : dispatcher_(dispatcher), backend_(this) {
  bindMethods();
}

void TetherServer::bindMethods() {
  using namespace std::placeholders;
  auto& d = dispatcher_;
  // The whole protocol surface, one line per method. PROTOCOL.md documents each; a test fails if they drift.
  // clang-format off
  d.method      ("initialize",      std::bind(&TetherServer::onInitialize, this, _1, _2));
  d.notification("initialized",     std::bind(&TetherServer::onInitialized, this, _1));
  d.method      ("shutdown",        std::bind(&TetherServer::onShutdown, this, _1, _2));
  d.method      ("tether/version",    std::bind(&TetherServer::onVersion, this, _1, _2));
  d.method      ("tether/contexts",   [this](const json::value& p, rpc::ReplyOnce r) { handleContexts(backend_, p, std::move(r)); });
  d.method      ("tether/namespaces", [this](const json::value& p, rpc::ReplyOnce r) { handleNamespaces(backend_, p, std::move(r)); });
  d.method      ("tether/services",   [this](const json::value& p, rpc::ReplyOnce r) { handleServices(backend_, p, std::move(r)); });
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
  spdlog::info("initialize from {} {} (pid {})", parsed.clientInfo ? parsed.clientInfo->name : "an unnamed client",
               parsed.clientInfo && parsed.clientInfo->version ? *parsed.clientInfo->version : "",
               parsed.processId ? std::to_string(*parsed.processId) : "none");
  const auto info = backend_.version();
  reply(json::object{{"serverInfo", json::object{{"name", info.name}, {"version", info.version}}},
                     {"capabilities", capabilities()}});
}

void TetherServer::onInitialized(const json::value& /*params*/) { spdlog::debug("client confirmed initialization"); }

void TetherServer::onShutdown(const json::value& /*params*/, rpc::ReplyOnce reply) {
  backend_.shutdown();
  reply(nullptr);
}

void TetherServer::onVersion(const json::value& params, rpc::ReplyOnce reply) {
  [[maybe_unused]] const jsonrpc::ParamReader shape(params);  // absent, null or an object; else -32602
  const auto info = backend_.version();
  reply(protocol::toJson(protocol::VersionResult{info.name, info.version, protocol::kProtocolVersion, info.buildType}));
}

void TetherServer::onLog(std::string_view message) { spdlog::info("core: {}", message); }

}  // namespace tether::ide
