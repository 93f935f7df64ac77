// SessionHandlers.cpp - the session methods.
#include "server/ide/SessionHandlers.hpp"

#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

#include "protocol/jsonrpc/ParamReader.hpp"
#include "server/ide/ClusterHandlers.hpp"
#include "server/ide/SessionJson.hpp"
#include "server/rpc/Progress.hpp"

namespace tether::ide {

namespace json = boost::json;

namespace {

// `expose` as PROTOCOL.md writes it ([{local, remote?}]) or as the CLI does (["12001:8080"]).
std::vector<std::string> exposeOf(const jsonrpc::ParamReader& params) {
  std::vector<std::string> expose;
  const auto& raw = params.raw("expose");
  if (raw.is_null()) return expose;
  if (!raw.is_array()) params.fail("expose", "expected an array of {local, remote?}");
  for (const auto& item : raw.get_array()) {
    if (item.is_string()) {
      expose.emplace_back(item.get_string());
      continue;
    }
    const jsonrpc::ParamReader entry(item, params.path() + ".expose[]");
    const auto local = entry.optionalInteger("local");
    if (!local) entry.fail("local", "expected an integer port");
    std::string text = std::to_string(*local);
    const auto& remote = entry.raw("remote");
    if (remote.is_int64()) {
      text += ":" + std::to_string(remote.get_int64());
    } else if (remote.is_string()) {
      text += ":" + std::string(remote.get_string());
    } else if (!remote.is_null()) {
      entry.fail("remote", "expected a port number or name");
    }
    expose.push_back(std::move(text));
  }
  return expose;
}

// `mesh.matchers`: [{kind?: "exact" | "prefix" | "regex" | "baggage", name, value}].
std::vector<core::MatcherRequest> matchersOf(const jsonrpc::ParamReader& params) {
  std::vector<core::MatcherRequest> matchers;
  const auto mesh = params.object("mesh");
  const auto& raw = mesh.raw("matchers");
  if (raw.is_null()) return matchers;
  if (!raw.is_array()) mesh.fail("matchers", "expected an array of {kind, name, value}");
  for (const auto& item : raw.get_array()) {
    const jsonrpc::ParamReader entry(item, mesh.path() + ".matchers[]");
    matchers.push_back({entry.optionalString("kind").value_or("exact"), entry.requiredString("name"),
                        entry.requiredString("value")});
  }
  return matchers;
}

}  // namespace

void handleSessionStart(core::Backend& backend, rpc::Outgoing& out, const json::value& params,
                        rpc::ReplyOnce reply) {
  const jsonrpc::ParamReader reader(params);
  core::SessionRequest request;
  request.caller = core::Caller::Ide;
  request.connection = connectionOf(reader);
  request.mode = reader.optionalString("mode").value_or("exchange");
  request.serviceType = reader.object("preview").optionalString("type").value_or("ClusterIP");
  request.service = reader.optionalString("target").value_or("");
  request.expose = exposeOf(reader);
  request.strategy = reader.object("exchange").optionalString("strategy").value_or("selector");
  request.image = reader.optionalString("image").value_or("");
  request.proxyProtocol = reader.optionalBool("proxyProtocol").value_or(false);
  request.outbound = reader.optionalString("outbound").value_or("proxy");
  // A debug adapter starts the debuggee and reaches it over this machine's loopback: the strongest tier
  // that keeps it is the shim (netns would hide the debuggee's loopback from the adapter).
  if (request.outbound == "auto") request.outbound = "preload";
  request.matchers = matchersOf(reader);
  const auto& baseEnv = reader.raw("baseEnv");
  if (!baseEnv.is_null()) {
    if (!baseEnv.is_object()) reader.fail("baseEnv", "expected an object of strings");
    for (const auto& [key, value] : baseEnv.get_object()) {
      if (!value.is_string()) reader.fail("baseEnv", "expected an object of strings");
      request.baseEnv.emplace(key, value.get_string());
    }
  }
  request.awaitLocal = reader.optionalBool("awaitLocal").value_or(false);
  auto token = rpc::WorkDoneProgress::tokenFrom(params);
  // With awaitLocal the answer goes out as soon as the session is prepared (the IDE then starts the
  // debuggee with its environment); `tether/sessionChanged` says when it is active, or failed.
  auto shared = std::make_shared<rpc::ReplyOnce>(std::move(reply));
  const auto cancellation = shared->cancellation();
  backend.post([&backend, &out, request, token, shared, cancellation] {
    rpc::WorkDoneProgress progress(out, token);
    progress.begin("Tether: " + request.mode + (request.service.empty() ? "" : " " + request.service));
    std::atomic<bool> answered = false;
    auto prepared = [&](const core::SessionView& session) {
      if (!answered.exchange(true)) (*shared)(json::value(sessionToJson(session)));
    };
    try {
      auto session = backend.startSession(
          request, [&progress](const std::string& step) { progress.report(step); },
          request.awaitLocal ? std::function<void(const core::SessionView&)>(prepared) : nullptr,
          [cancellation](std::function<void()> cancel) { cancellation.onCancel(std::move(cancel)); });
      progress.end("active");
      if (!answered.exchange(true)) (*shared)(json::value(sessionToJson(session)));
    } catch (const core::Error& error) {
      progress.end("failed");
      // After a prepared answer, the failure reaches the IDE as tether/sessionChanged (state failed).
      if (!answered.exchange(true)) {
        shared->error(jsonrpc::ErrorCode::RequestFailed, error.what(), errorData(error));
      }
    } catch (const std::exception& error) {
      progress.end("failed");
      spdlog::error("tether/session/start failed: {}", error.what());
      if (!answered.exchange(true)) {
        shared->error(jsonrpc::ErrorCode::InternalError,
                      std::string("tether/session/start failed: ") + error.what(),
                      json::object{{"category", "internal"}, {"hint", "see the backend log"}});
      }
    }
  });
}

void handleSessionStop(core::Backend& backend, const json::value& params, rpc::ReplyOnce reply) {
  const jsonrpc::ParamReader reader(params);
  const auto id = reader.requiredString("id");
  const bool force = reader.optionalBool("force").value_or(false);
  answerOnWorker(backend, std::move(reply), [&backend, id, force] {
    return json::value(sessionToJson(backend.stopSession(id, force)));
  });
}

void handleSessionList(core::Backend& backend, const json::value& params, rpc::ReplyOnce reply) {
  [[maybe_unused]] const jsonrpc::ParamReader shape(params);
  json::array sessions;
  for (const auto& session : backend.listSessions()) sessions.push_back(sessionToJson(session));
  reply(json::object{{"sessions", std::move(sessions)}});
}

void handleClean(core::Backend& backend, const json::value& params, rpc::ReplyOnce reply) {
  const jsonrpc::ParamReader reader(params);
  const auto connection = connectionOf(reader);
  core::CleanRequest request;
  request.dryRun = reader.optionalBool("dryRun").value_or(false);
  request.allNamespaces = reader.optionalBool("allNamespaces").value_or(false);
  const auto stale = reader.optionalInteger("staleAfterSeconds").value_or(120);
  if (stale < 0) reader.fail("staleAfterSeconds", "expected 0 or more seconds");
  request.staleAfter = std::chrono::seconds(stale);
  answerOnWorker(backend, std::move(reply), [&backend, connection, request] {
    return json::value(cleanToJson(backend.clean(connection, request)));
  });
}

void handleRecover(core::Backend& backend, const json::value& params, rpc::ReplyOnce reply) {
  const jsonrpc::ParamReader reader(params);
  const auto connection = connectionOf(reader);
  core::CleanRequest request;
  request.service = reader.requiredString("service");
  answerOnWorker(backend, std::move(reply), [&backend, connection, request] {
    return json::value(cleanToJson(backend.clean(connection, request)));
  });
}

}  // namespace tether::ide
