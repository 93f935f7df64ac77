// DispatcherTests.cpp - the base-protocol rules, stepped without sockets or threads.
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <optional>

#include "protocol/jsonrpc/ParamReader.hpp"
#include "server/rpc/Dispatcher.hpp"
#include "server/rpc/InMemoryTransport.hpp"
#include "server/rpc/RpcError.hpp"

using namespace tether;
namespace json = boost::json;

namespace {

// A dispatcher with a tiny method table, fed frames directly.
struct Fixture {
  rpc::InMemoryTransport out;
  rpc::Dispatcher dispatcher{out};
  std::optional<rpc::ReplyOnce> parked;  // a request the test answers later
  std::optional<rpc::CancellationToken> parkedToken;
  int notified = 0;

  Fixture() {
    dispatcher.method("initialize", [](const json::value&, rpc::ReplyOnce reply) { reply(json::object{}); });
    dispatcher.method("shutdown", [](const json::value&, rpc::ReplyOnce reply) { reply(nullptr); });
    dispatcher.method("echo", [](const json::value& params, rpc::ReplyOnce reply) { reply(params); });
    dispatcher.method("park", [this](const json::value&, rpc::ReplyOnce reply) {
      parkedToken = reply.cancellation();
      parked.emplace(std::move(reply));
    });
    dispatcher.method("drop", [](const json::value&, rpc::ReplyOnce) {});
    dispatcher.method("twice", [](const json::value&, rpc::ReplyOnce reply) {
      reply(1);
      reply(2);
    });
    dispatcher.method("typed", [](const json::value& params, rpc::ReplyOnce reply) {
      reply(json::string(jsonrpc::ParamReader(params).requiredString("namespace")));
    });
    dispatcher.method("fails", [](const json::value&, rpc::ReplyOnce) {
      throw rpc::RpcError(jsonrpc::ErrorCode::RequestFailed, "service orders is held by alice",
                          json::object{{"category", "user"}, {"hint", "stop it or use mesh"}});
    });
    dispatcher.method("throws", [](const json::value&, rpc::ReplyOnce) { throw std::runtime_error("boom"); });
    dispatcher.notification("note", [this](const json::value&) { ++notified; });
  }

  bool feed(const std::string& text) { return dispatcher.onFrame(text); }
  bool request(int id, const std::string& method, const std::string& params = "{}") {
    return feed(R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method +
                R"(","params":)" + params + "}");
  }
  json::value next() {
    auto value = out.nextOutput(std::chrono::milliseconds(0));
    REQUIRE(value.has_value());
    return *value;
  }
  void initialize() {
    request(1, "initialize");
    CHECK(next().at("result").is_object());
  }
};

std::int64_t errorCode(const json::value& response) {
  return response.at("error").at("code").as_int64();
}

}  // namespace

TEST_CASE("requests before initialize get ServerNotInitialized; notifications are dropped", "[dispatcher]") {
  Fixture f;
  f.request(5, "echo");
  const auto response = f.next();
  CHECK(errorCode(response) == -32002);
  CHECK(response.at("id").as_int64() == 5);
  f.feed(R"({"jsonrpc":"2.0","method":"note"})");
  CHECK(f.notified == 0);
  CHECK(f.out.outputCount() == 0);
}

TEST_CASE("initialize may be sent once", "[dispatcher]") {
  Fixture f;
  f.initialize();
  f.request(2, "initialize");
  CHECK(errorCode(f.next()) == -32600);
}

TEST_CASE("a failed initialize leaves the server uninitialized", "[dispatcher]") {
  rpc::InMemoryTransport out;
  rpc::Dispatcher dispatcher(out);
  dispatcher.method("initialize", [](const json::value& params, rpc::ReplyOnce reply) {
    reply(json::string(jsonrpc::ParamReader(params).requiredString("must")));
  });
  dispatcher.onFrame(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})");
  CHECK(errorCode(*out.nextOutput()) == -32602);
  CHECK(dispatcher.state() == rpc::LifecycleState::Uninitialized);
  dispatcher.onFrame(R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"must":"x"}})");
  CHECK(out.nextOutput()->at("result") == "x");
  CHECK(dispatcher.state() == rpc::LifecycleState::Initialized);
}

TEST_CASE("results echo the request id, int or string", "[dispatcher]") {
  Fixture f;
  f.initialize();
  f.feed(R"({"jsonrpc":"2.0","id":"abc","method":"echo","params":{"k":1}})");
  const auto response = f.next();
  CHECK(response.at("id") == "abc");
  CHECK(response.at("result").at("k").as_int64() == 1);
}

TEST_CASE("malformed input is answered and the server keeps serving", "[dispatcher]") {
  Fixture f;
  f.initialize();
  CHECK(f.feed("{oops"));
  auto response = f.next();
  CHECK(errorCode(response) == -32700);
  CHECK(response.at("id").is_null());
  CHECK(f.feed("[1,2]"));
  CHECK(errorCode(f.next()) == -32600);
  CHECK(f.feed("17"));
  CHECK(errorCode(f.next()) == -32600);
  f.request(3, "no/such/method");
  response = f.next();
  CHECK(errorCode(response) == -32601);
  CHECK_THAT(std::string(response.at("error").at("message").as_string()), Catch::Contains("no/such/method"));
  f.request(4, "echo");
  CHECK(f.next().at("id").as_int64() == 4);
}

TEST_CASE("wrong params are answered -32602 naming the path", "[dispatcher]") {
  Fixture f;
  f.initialize();
  f.request(2, "typed", R"({"namespace":3})");
  const auto response = f.next();
  CHECK(errorCode(response) == -32602);
  CHECK(response.at("error").at("message") == "params.namespace: expected string");
}

TEST_CASE("handler errors keep their code and data; exceptions become InternalError", "[dispatcher]") {
  Fixture f;
  f.initialize();
  f.request(2, "fails");
  auto response = f.next();
  CHECK(errorCode(response) == -32803);
  CHECK(response.at("error").at("data").at("category") == "user");
  f.request(3, "throws");
  response = f.next();
  CHECK(errorCode(response) == -32603);
  CHECK_THAT(std::string(response.at("error").at("message").as_string()), Catch::Contains("boom"));
}

TEST_CASE("every request is answered exactly once", "[dispatcher]") {
  Fixture f;
  f.initialize();
  SECTION("a dropped reply answers InternalError") {
    f.request(2, "drop");
    const auto response = f.next();
    CHECK(errorCode(response) == -32603);
    CHECK_THAT(std::string(response.at("error").at("message").as_string()),
               Catch::Contains("failed to reply"));
  }
  SECTION("a second reply is dropped") {
    f.request(2, "twice");
    CHECK(f.next().at("result").as_int64() == 1);
    CHECK(f.out.outputCount() == 0);
  }
  SECTION("a parked reply is sent when the work finishes") {
    f.request(2, "park");
    CHECK(f.out.outputCount() == 0);
    (*f.parked)(json::string("done"));
    CHECK(f.next().at("result") == "done");
    f.parked.reset();
    CHECK(f.out.outputCount() == 0);
  }
}

TEST_CASE("$/cancelRequest answers -32800 at once, fires the token and drops the late reply",
          "[dispatcher]") {
  Fixture f;
  f.initialize();
  f.request(9, "park");
  bool callbackRan = false;
  f.parkedToken->onCancel([&] { callbackRan = true; });
  f.feed(R"({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":9}})");
  const auto response = f.next();
  CHECK(errorCode(response) == -32800);
  CHECK(response.at("id").as_int64() == 9);
  CHECK(f.parkedToken->isCancelled());
  CHECK(callbackRan);
  (*f.parked)(json::string("too late"));
  f.parked.reset();
  CHECK(f.out.outputCount() == 0);
  // A cancel for something already answered changes nothing.
  f.feed(R"({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":9}})");
  CHECK(f.out.outputCount() == 0);
}

TEST_CASE("a request id in use by a pending request is refused", "[dispatcher]") {
  Fixture f;
  f.initialize();
  f.request(3, "park");
  f.request(3, "echo");
  CHECK(errorCode(f.next()) == -32600);
  (*f.parked)(1);
  CHECK(f.next().at("result").as_int64() == 1);
  f.request(3, "echo");  // free again once answered
  CHECK(f.next().at("id").as_int64() == 3);
}

TEST_CASE("unknown notifications are ignored; known ones run", "[dispatcher]") {
  Fixture f;
  f.initialize();
  CHECK(f.feed(R"({"jsonrpc":"2.0","method":"no/such/notification"})"));
  CHECK(f.feed(R"({"jsonrpc":"2.0","method":"$/setTrace","params":{"value":"off"}})"));
  CHECK(f.feed(R"({"jsonrpc":"2.0","method":"note"})"));
  CHECK(f.notified == 1);
  CHECK(f.out.outputCount() == 0);
}

TEST_CASE("after shutdown requests are refused and exit ends with 0", "[dispatcher]") {
  Fixture f;
  f.initialize();
  f.request(2, "shutdown");
  CHECK(f.next().at("result").is_null());
  f.request(3, "echo");
  CHECK(errorCode(f.next()) == -32600);
  CHECK_FALSE(f.feed(R"({"jsonrpc":"2.0","method":"exit"})"));
  CHECK(f.dispatcher.exitCode() == 0);
}

TEST_CASE("exit without shutdown ends with 1", "[dispatcher]") {
  Fixture f;
  f.initialize();
  CHECK_FALSE(f.feed(R"({"jsonrpc":"2.0","method":"exit"})"));
  CHECK(f.dispatcher.exitCode() == 1);
}

TEST_CASE("server->client calls are matched with their responses and bounded", "[dispatcher]") {
  rpc::InMemoryTransport out;
  rpc::Dispatcher dispatcher(out, rpc::DispatcherOptions{2});
  std::vector<std::string> outcomes;
  auto record = [&](const char* name) {
    return [&outcomes, name](const jsonrpc::Response& response) {
      outcomes.push_back(std::string(name) + (response.isError() ? ":error" : ":ok"));
    };
  };
  dispatcher.call("window/workDoneProgress/create", json::object{{"token", 1}}, record("a"));
  dispatcher.call("window/workDoneProgress/create", json::object{{"token", 2}}, record("b"));
  dispatcher.call("window/workDoneProgress/create", json::object{{"token", 3}}, record("c"));
  CHECK(outcomes == std::vector<std::string>{"a:error"});  // the oldest was evicted
  const auto first = out.nextOutput().value();
  CHECK(first.at("method") == "window/workDoneProgress/create");
  out.nextOutput();
  const auto third = out.nextOutput().value();
  dispatcher.onFrame(R"({"jsonrpc":"2.0","id":)" + json::serialize(third.at("id")) + R"(,"result":null})");
  CHECK(outcomes == std::vector<std::string>{"a:error", "c:ok"});
  dispatcher.onFrame(R"({"jsonrpc":"2.0","id":"tether-999","result":null})");  // unknown: logged only
  CHECK(outcomes.size() == 2);
}
