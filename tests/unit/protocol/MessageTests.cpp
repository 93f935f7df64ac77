// MessageTests.cpp - classification of JSON-RPC envelopes and the param reader's paths.
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include "protocol/jsonrpc/Message.hpp"
#include "protocol/jsonrpc/ParamReader.hpp"
#include "protocol/tether/Methods.hpp"

using namespace tether::jsonrpc;

namespace {
template <typename T>
const T& as(const ParseResult& result) {
  REQUIRE(std::holds_alternative<Message>(result));
  const auto& message = std::get<Message>(result);
  REQUIRE(std::holds_alternative<T>(message));
  return std::get<T>(message);
}

const MessageError& failure(const ParseResult& result) {
  REQUIRE(std::holds_alternative<MessageError>(result));
  return std::get<MessageError>(result);
}
}  // namespace

TEST_CASE("requests carry integer or string ids", "[message]") {
  const auto numericResult = parseMessage(R"({"jsonrpc":"2.0","id":7,"method":"m","params":{"a":1}})");
  const auto& numeric = as<Request>(numericResult);
  CHECK(std::get<std::int64_t>(numeric.id) == 7);
  CHECK(numeric.method == "m");
  CHECK(numeric.params.at("a").as_int64() == 1);
  const auto textResult = parseMessage(R"({"jsonrpc":"2.0","id":"abc","method":"m"})");
  const auto& text = as<Request>(textResult);
  CHECK(std::get<std::string>(text.id) == "abc");
  CHECK(text.params.is_null());
}

TEST_CASE("a message without id is a notification", "[message]") {
  const auto result = parseMessage(R"({"jsonrpc":"2.0","method":"initialized","params":[]})");
  const auto& notification = as<Notification>(result);
  CHECK(notification.method == "initialized");
  CHECK(notification.params.is_array());
}

TEST_CASE("responses carry a result or an error", "[message]") {
  const auto okResult = parseMessage(R"({"jsonrpc":"2.0","id":"tether-1","result":null})");
  const auto& ok = as<Response>(okResult);
  CHECK_FALSE(ok.isError());
  const auto badResult = parseMessage(R"({"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}})");
  const auto& bad = as<Response>(badResult);
  REQUIRE(bad.isError());
  CHECK(std::get<ResponseError>(bad.outcome).message == "no");
}

TEST_CASE("invalid envelopes are classified with the code to answer", "[message]") {
  CHECK(failure(parseMessage("{not json")).code == ErrorCode::ParseError);
  CHECK_FALSE(failure(parseMessage("{not json")).id.has_value());
  CHECK(failure(parseMessage("42")).code == ErrorCode::InvalidRequest);
  CHECK(failure(parseMessage("\"text\"")).code == ErrorCode::InvalidRequest);
  const auto batchResult = parseMessage(R"([{"jsonrpc":"2.0","id":1,"method":"m"}])");
  const auto& batch = failure(batchResult);
  CHECK(batch.code == ErrorCode::InvalidRequest);
  CHECK_THAT(batch.message, Catch::Contains("batch"));
  const auto versionResult = parseMessage(R"({"jsonrpc":"1.0","id":4,"method":"m"})");
  const auto& version = failure(versionResult);
  CHECK(version.code == ErrorCode::InvalidRequest);
  REQUIRE(version.id.has_value());
  CHECK(std::get<std::int64_t>(*version.id) == 4);
  CHECK(failure(parseMessage(R"({"jsonrpc":"2.0","id":1.5,"method":"m"})")).code ==
        ErrorCode::InvalidRequest);
  CHECK(failure(parseMessage(R"({"jsonrpc":"2.0","id":{},"method":"m"})")).code == ErrorCode::InvalidRequest);
  CHECK(failure(parseMessage(R"({"jsonrpc":"2.0","id":1,"method":5})")).code == ErrorCode::InvalidRequest);
  CHECK(failure(parseMessage(R"({"jsonrpc":"2.0","id":1,"method":"m","params":"x"})")).code ==
        ErrorCode::InvalidRequest);
  CHECK(failure(parseMessage(R"({"jsonrpc":"2.0","id":1})")).code == ErrorCode::InvalidRequest);
  CHECK(failure(parseMessage(R"({"jsonrpc":"2.0"})")).code == ErrorCode::InvalidRequest);
  CHECK(failure(parseMessage(R"({"jsonrpc":"2.0","id":null,"method":"m"})")).code ==
        ErrorCode::InvalidRequest);
}

TEST_CASE("deeply nested input is a parse error, not a stack overflow", "[message]") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(failure(parseMessage(deep)).code == ErrorCode::ParseError);
}

TEST_CASE("serialize writes the 2.0 envelope and a null id for unreadable requests", "[message]") {
  const auto text = serialize(Message{makeError(std::nullopt, ErrorCode::ParseError, "bad")});
  const auto value = boost::json::parse(text);
  CHECK(value.at("jsonrpc") == "2.0");
  CHECK(value.at("id").is_null());
  CHECK(value.at("error").at("code").as_int64() == -32700);
}

TEST_CASE("the param reader names the JSON path of a bad field", "[params]") {
  const auto params = boost::json::parse(R"({"namespace":5,"outer":{"inner":{"name":true}},"list":[]})");
  const ParamReader reader(params);
  CHECK_THROWS_WITH(reader.requiredString("namespace"), "params.namespace: expected string");
  CHECK_THROWS_WITH(reader.requiredString("missing"), "params.missing: required string is missing");
  CHECK_THROWS_WITH(reader.object("outer").object("inner").optionalString("name"),
                    "params.outer.inner.name: expected string");
  CHECK_THROWS_WITH(reader.object("list"), "params.list: expected object");
  CHECK_THROWS_WITH(ParamReader(boost::json::parse("[1]")), "params: expected object");
  CHECK_FALSE(reader.optionalString("absent").has_value());
}

TEST_CASE("initialize params are read with paths", "[params]") {
  using tether::protocol::initializeParamsFromJson;
  const auto good = initializeParamsFromJson(boost::json::parse(
      R"({"processId":12,"clientInfo":{"name":"vscode","version":"1.9"},"capabilities":{"window":{"workDoneProgress":true}}})"));
  CHECK(good.processId == 12);
  CHECK(good.clientInfo->name == "vscode");
  CHECK(good.workDoneProgress);
  CHECK(initializeParamsFromJson(boost::json::parse(R"({"processId":null})")).processId == std::nullopt);
  CHECK_THROWS_WITH(initializeParamsFromJson(boost::json::parse(R"({"processId":"12"})")),
                    "params.processId: expected integer");
  CHECK_THROWS_WITH(initializeParamsFromJson(boost::json::parse(R"({"clientInfo":{"name":3}})")),
                    "params.clientInfo.name: expected string");
}
