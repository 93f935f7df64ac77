// ClusterHandlers.cpp - the read-only cluster methods.
#include "server/ide/ClusterHandlers.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <memory>

#include "protocol/jsonrpc/ErrorCodes.hpp"
#include "protocol/jsonrpc/ParamReader.hpp"

namespace tether::ide {

namespace json = boost::json;

json::object errorData(const core::Error& error) {
  json::object data{{"category", categoryName(error.category())}, {"hint", error.hint()}};
  if (!error.detail().reason.empty()) data["reason"] = error.detail().reason;
  if (!error.detail().field.empty()) data["field"] = error.detail().field;
  return data;
}

const char* categoryName(core::ErrorCategory category) {
  switch (category) {
    case core::ErrorCategory::User:
      return "user";
    case core::ErrorCategory::Config:
      return "config";
    case core::ErrorCategory::Cluster:
      return "cluster";
    case core::ErrorCategory::Internal:
      return "internal";
  }
  return "internal";
}

namespace {

json::object stringMap(const std::map<std::string, std::string>& map) {
  json::object object;
  for (const auto& [key, value] : map) object[key] = value;
  return object;
}

}  // namespace

core::ConnectionOptions connectionOf(const jsonrpc::ParamReader& params) {
  return core::ConnectionOptions{params.optionalString("kubeconfig"), params.optionalString("context"),
                                 params.optionalString("namespace")};
}

void answerOnWorker(core::Backend& backend, rpc::ReplyOnce reply, std::function<json::value()> work) {
  // ReplyOnce is move-only; the pool wants copyable work, so the handle travels in a shared_ptr.
  auto shared = std::make_shared<rpc::ReplyOnce>(std::move(reply));
  backend.post([shared, work = std::move(work)] {
    try {
      (*shared)(work());
    } catch (const core::Error& error) {
      shared->error(jsonrpc::ErrorCode::RequestFailed, error.what(), errorData(error));
    } catch (const std::exception& error) {
      spdlog::error("{} failed: {}", shared->method(), error.what());
      shared->error(jsonrpc::ErrorCode::InternalError, shared->method() + " failed: " + error.what(),
                    json::object{{"category", "internal"}, {"hint", "see the backend log"}});
    }
  });
}

void handleContexts(core::Backend& backend, const json::value& params, rpc::ReplyOnce reply) {
  const jsonrpc::ParamReader reader(params);
  auto connection = connectionOf(reader);
  answerOnWorker(backend, std::move(reply), [&backend, connection] {
    const auto list = backend.contexts(connection);
    json::array contexts;
    for (const auto& context : list.contexts) {
      contexts.push_back(json::object{{"name", context.name},
                                      {"cluster", context.cluster},
                                      {"user", context.user},
                                      {"namespace", context.namespaceName},
                                      {"server", context.server},
                                      {"current", context.current}});
    }
    json::array files;
    for (const auto& file : list.files) files.emplace_back(file);
    return json::value(
        json::object{{"current", list.current.empty() ? json::value(nullptr) : json::value(list.current)},
                     {"contexts", std::move(contexts)},
                     {"files", std::move(files)}});
  });
}

void handleNamespaces(core::Backend& backend, const json::value& params, rpc::ReplyOnce reply) {
  const jsonrpc::ParamReader reader(params);
  auto connection = connectionOf(reader);
  answerOnWorker(backend, std::move(reply), [&backend, connection] {
    json::array namespaces;
    for (const auto& ns : backend.namespaces(connection)) {
      namespaces.push_back(
          json::object{{"name", ns.name}, {"phase", ns.phase}, {"created", ns.creationTimestamp}});
    }
    return json::value(json::object{{"namespaces", std::move(namespaces)}});
  });
}

void handleServices(core::Backend& backend, const json::value& params, rpc::ReplyOnce reply) {
  const jsonrpc::ParamReader reader(params);
  auto connection = connectionOf(reader);
  connection.namespaceName = reader.requiredString("namespace");
  answerOnWorker(backend, std::move(reply), [&backend, connection] {
    json::array services;
    for (const auto& view : backend.services(connection)) {
      const auto& s = view.service;
      json::array ports;
      for (const auto& port : s.ports) {
        json::object item{{"port", port.port}, {"targetPort", port.targetPort}, {"protocol", port.protocol}};
        if (!port.name.empty()) item["name"] = port.name;
        ports.push_back(std::move(item));
      }
      json::object service{{"name", s.name},
                           {"type", s.type},
                           {"clusterIP", s.clusterIP},
                           {"ports", std::move(ports)},
                           {"selector", stringMap(s.selector)}};
      if (!view.meshedBy.empty()) {
        json::array members;
        for (const auto& member : view.meshedBy)
          members.push_back(json::object{{"session", member.session}, {"owner", member.owner}});
        service["mesh"] =
            json::object{{"members", std::move(members)}, {"since", view.meshedBy.front().since}};
      }
      if (!view.stableOf.empty()) service["stableOf"] = view.stableOf;
      if (view.heldBy) {
        service["heldBy"] = json::object{{"session", view.heldBy->session},
                                         {"mode", view.heldBy->mode},
                                         {"owner", view.heldBy->owner},
                                         {"since", view.heldBy->since}};
      }
      services.push_back(std::move(service));
    }
    return json::value(json::object{{"services", std::move(services)}});
  });
}

}  // namespace tether::ide
