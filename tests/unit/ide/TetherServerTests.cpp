// TetherServerTests.cpp - the real method table behind an in-memory transport, and its drift check
// against protocol/PROTOCOL.md (the contract both extensions mirror).
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "server/core/BuildInfo.hpp"
#include "server/ide/TetherServer.hpp"
#include "server/rpc/InMemoryTransport.hpp"

using namespace tether;
namespace json = boost::json;

namespace {

// The server's loop runs on its own thread, as in production; the test is the client.
struct Session {
  rpc::InMemoryTransport transport;
  rpc::Dispatcher dispatcher{transport};
  ide::TetherServer server{dispatcher};
  rpc::LoopEnd end{};
  std::thread loop{[this] { end = transport.loop(dispatcher); }};

  ~Session() {
    transport.closeInput();
    loop.join();
  }

  json::value call(int id, const std::string& method, const std::string& params = "null") {
    transport.pushMessage(json::parse(R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" +
                                      method + R"(","params":)" + params + "}"));
    auto response = transport.nextOutput();
    REQUIRE(response.has_value());
    return *response;
  }
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("initialize reports serverInfo and the tether methods of the table", "[ide]") {
  Session session;
  const auto response = session.call(1, "initialize", R"({"processId":null,"clientInfo":{"name":"test"}})");
  const auto& result = response.at("result");
  CHECK(result.at("serverInfo").at("name") == "tether");
  CHECK(result.at("serverInfo").at("version") == core::kVersion);
  std::set<std::string> advertised;
  for (const auto& method : result.at("capabilities").at("tether").at("methods").as_array()) {
    advertised.insert(std::string(method.as_string()));
  }
  std::set<std::string> bound;
  for (const auto& name : session.dispatcher.methodNames()) {
    if (name.rfind("tether/", 0) == 0) bound.insert(name);
  }
  CHECK(advertised == bound);
  CHECK(advertised.count("tether/version") == 1);
}

TEST_CASE("tether/version answers name, version and protocol version", "[ide]") {
  Session session;
  session.call(1, "initialize", "{}");
  const auto response = session.call(2, "tether/version");
  CHECK(response.at("result").at("version") == core::kVersion);
  CHECK(response.at("result").at("protocolVersion").as_int64() == 1);
  CHECK(session.call(3, "tether/version", "[1]").at("error").at("message") == "params: expected object");
}

TEST_CASE("initialize with a wrong param names its path", "[ide]") {
  Session session;
  const auto response = session.call(1, "initialize", R"({"processId":"me"})");
  CHECK(response.at("error").at("code").as_int64() == -32602);
  CHECK(response.at("error").at("message") == "params.processId: expected integer");
}

TEST_CASE("frames split anywhere reach the server intact", "[ide]") {
  Session session;
  const std::string frame =
      "Content-Length: 58\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}";
  for (char byte : frame) session.transport.push(std::string(1, byte));
  const auto response = session.transport.nextOutput();
  REQUIRE(response.has_value());
  CHECK(response->at("result").at("serverInfo").at("name") == "tether");
}

TEST_CASE("PROTOCOL.md marks exactly the bound methods as implemented", "[ide][drift]") {
  // Every heading "### `name` (implemented)" or "(planned)" in PROTOCOL.md is a method or notification.
  const auto text = readFile(std::string(TETHER_SOURCE_DIR) + "/protocol/PROTOCOL.md");
  const std::regex heading(R"(### `([^`]+)` \((implemented|planned)\))");
  std::set<std::string> documentedImplemented;
  for (std::sregex_iterator it(text.begin(), text.end(), heading), end; it != end; ++it) {
    if ((*it)[2] == "implemented") documentedImplemented.insert((*it)[1]);
  }
  rpc::InMemoryTransport transport;
  rpc::Dispatcher dispatcher(transport);
  ide::TetherServer server(dispatcher);
  std::set<std::string> bound;
  for (const auto& name : dispatcher.methodNames()) bound.insert(name);
  // Methods the table binds must be documented as implemented, and every tether/* method documented as
  // implemented must be bound (server-sent notifications excepted). `$/`, `exit` and window/* are
  // handled by the dispatcher itself, so they are checked by name below.
  const std::set<std::string> serverSent = {"tether/sessionChanged"};
  for (const auto& name : bound) {
    INFO("bound method " << name);
    CHECK(documentedImplemented.count(name) == 1);
  }
  for (const auto& name : documentedImplemented) {
    if (name.rfind("tether/", 0) != 0 || serverSent.count(name) != 0) continue;
    INFO("documented as implemented: " << name);
    CHECK(bound.count(name) == 1);
  }
  for (const auto& name : {"exit", "$/cancelRequest", "$/progress", "window/logMessage", "initialized"}) {
    CHECK(documentedImplemented.count(name) == 1);
  }
}
