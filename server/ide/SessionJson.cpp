// SessionJson.cpp - Session and clean results to JSON.
#include "server/ide/SessionJson.hpp"

#include <boost/json.hpp>

namespace tether::ide {

namespace json = boost::json;

const std::vector<std::string>& launchNotes() {
  static const std::vector<std::string> notes{
      "Outbound calls to cluster names go through the session's local proxy: curl, wget, Python "
      "(requests, httpx, urllib, aiohttp with trust_env), Go net/http, .NET HttpClient, Node 24+ (through "
      "NODE_USE_ENV_PROXY) and the JVM started by `java` (through JDK_JAVA_OPTIONS) honour it.",
      "Not honoured: Node before 24 without a proxy agent, raw TCP sockets, gRPC-Java, most database "
      "drivers; start the session with outbound \"netns\" (Linux) to reach the cluster from those too.",
      "The same port speaks SOCKS5 and SOCKS4a for tools configured by hand (socks5h://, with the same "
      "user:password)."};
  return notes;
}

json::object sessionToJson(const core::SessionView& session) {
  json::array expose;
  for (const auto& port : session.exposed) {
    expose.push_back(json::object{
        {"local", port.local}, {"servicePort", port.servicePort}, {"targetPort", port.targetPort}});
  }
  json::object object{{"id", session.id},
                      {"state", session::toString(session.state)},
                      {"mode", session::toString(session.mode)},
                      {"strategy", session::toString(session.strategy)},
                      {"context", session.contextName},
                      {"namespace", session.namespaceName},
                      {"target", session.service},
                      {"expose", std::move(expose)},
                      {"owner", session.owner},
                      {"startedAt", session.startedAt}};
  if (!session.matchers.empty()) {
    json::array matchers;
    for (const auto& matcher : session.matchers) {
      matchers.push_back(json::object{{"kind", std::string(mesh::toString(matcher.kind()))},
                                      {"name", matcher.name()},
                                      {"value", matcher.value()}});
    }
    object["mesh"] = json::object{{"matchers", std::move(matchers)}};
  }
  object["outbound"] = session::toString(session.outbound);
  if (!session.message.empty()) object["message"] = session.message;
  if (session.reason != session::FailureReason::None) object["reason"] = session::toString(session.reason);
  if (!session.shadowPod.empty()) object["shadowPod"] = session.shadowPod;
  if (session.dnsPort != 0) object["dns"] = "127.0.0.1:" + std::to_string(session.dnsPort);
  if (!session.launchEnv.empty()) {
    json::object env;
    for (const auto& [key, value] : session.launchEnv) env[key] = value;
    json::array notes;
    for (const auto& note : launchNotes()) notes.emplace_back(note);
    json::object launch{{"env", std::move(env)}, {"unset", json::array{}}, {"notes", std::move(notes)}};
    if (!session.launchWrapper.empty()) {
      json::array wrapper;
      for (const auto& word : session.launchWrapper) wrapper.emplace_back(word);
      launch["wrapper"] = std::move(wrapper);
    }
    object["launch"] = std::move(launch);
  }
  json::array phases;
  for (const auto& [step, millis] : session.phases)
    phases.push_back(json::object{{"step", step}, {"ms", millis}});
  object["phases"] = std::move(phases);
  return object;
}

json::object cleanActionToJson(const session::CleanAction& action) {
  json::object object{
      {"kind", action.kind}, {"object", action.object}, {"session", action.session}, {"owner", action.owner}};
  if (!action.heartbeat.empty()) object["heartbeat"] = action.heartbeat;
  if (!action.error.empty()) object["error"] = action.error;
  return object;
}

json::object cleanToJson(const core::CleanResult& result) {
  json::array actions;
  for (const auto& action : result.actions) actions.push_back(cleanActionToJson(action));
  json::array kept;
  for (const auto& text : result.kept) kept.emplace_back(text);
  return json::object{{"actions", std::move(actions)}, {"kept", std::move(kept)}};
}

}  // namespace tether::ide
