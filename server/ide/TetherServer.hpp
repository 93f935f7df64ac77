// TetherServer.hpp - binds the tether/* methods and the lifecycle to the core Backend.
//
// This is the only place that knows both JSON-RPC and the core: it decodes params into core calls,
// encodes results, maps core events to notifications. Nothing else lives here.
#pragma once

#include <boost/json/value.hpp>

#include <functional>

#include "server/core/Backend.hpp"
#include "server/rpc/Dispatcher.hpp"

namespace tether::ide {

class TetherServer : private core::Backend::Callbacks {
 public:
  // `watchClient` is asked to watch the IDE's process (initialize's processId) when there is one.
  explicit TetherServer(rpc::Dispatcher& dispatcher, std::function<bool(int pid)> watchClient = {});

  core::Backend& backend() { return backend_; }

 private:
  void bindMethods();

  void onInitialize(const boost::json::value& params, rpc::ReplyOnce reply);
  void onInitialized(const boost::json::value& params);
  void onShutdown(const boost::json::value& params, rpc::ReplyOnce reply);
  void onVersion(const boost::json::value& params, rpc::ReplyOnce reply);
  void onContexts(const boost::json::value& params, rpc::ReplyOnce reply);
  void onNamespaces(const boost::json::value& params, rpc::ReplyOnce reply);
  void onServices(const boost::json::value& params, rpc::ReplyOnce reply);
  void onSessionStart(const boost::json::value& params, rpc::ReplyOnce reply);
  void onSessionStop(const boost::json::value& params, rpc::ReplyOnce reply);
  void onSessionList(const boost::json::value& params, rpc::ReplyOnce reply);
  void onClean(const boost::json::value& params, rpc::ReplyOnce reply);
  void onRecover(const boost::json::value& params, rpc::ReplyOnce reply);

  // core::Backend::Callbacks
  void onLog(std::string_view message) override;
  void onSessionChanged(const core::SessionView& session) override;

  boost::json::value capabilities() const;

  rpc::Dispatcher& dispatcher_;
  std::function<bool(int pid)> watchClient_;
  core::Backend backend_;
};

}  // namespace tether::ide
