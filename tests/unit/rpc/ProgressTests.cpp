// ProgressTests.cpp - well-formed $/progress sequences whatever the caller does.
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include "server/rpc/InMemoryTransport.hpp"
#include "server/rpc/Progress.hpp"

using namespace tether;
namespace json = boost::json;

namespace {
std::vector<json::value> drain(rpc::InMemoryTransport& out) {
  std::vector<json::value> values;
  while (auto value = out.nextOutput(std::chrono::milliseconds(0))) values.push_back(*value);
  return values;
}
}  // namespace

TEST_CASE("progress without a token sends nothing", "[progress]") {
  rpc::InMemoryTransport out;
  {
    rpc::WorkDoneProgress progress(out,
                                   rpc::WorkDoneProgress::tokenFrom(json::parse(R"({"namespace":"x"})")));
    progress.begin("Starting");
    progress.report("half", 50);
  }
  CHECK(out.outputCount() == 0);
}

TEST_CASE("begin, report and end carry the token; percentages never go back", "[progress]") {
  rpc::InMemoryTransport out;
  {
    rpc::WorkDoneProgress progress(
        out, rpc::WorkDoneProgress::tokenFrom(json::parse(R"({"workDoneToken":"t1"})")));
    progress.report("ignored before begin");
    progress.begin("Starting exchange", std::string("resolving"), 0, true);
    progress.report("pod ready", 60);
    progress.report("tunnel up", 40);
    progress.report("too much", 400);
    progress.end("active");
    progress.end("twice");
  }
  const auto sent = drain(out);
  REQUIRE(sent.size() == 5);
  for (const auto& message : sent) {
    CHECK(message.at("method") == "$/progress");
    CHECK(message.at("params").at("token") == "t1");
  }
  CHECK(sent[0].at("params").at("value").at("kind") == "begin");
  CHECK(sent[0].at("params").at("value").at("cancellable") == true);
  CHECK(sent[1].at("params").at("value").at("percentage").as_int64() == 60);
  CHECK(sent[2].at("params").at("value").at("percentage").as_int64() == 60);
  CHECK(sent[3].at("params").at("value").at("percentage").as_int64() == 100);
  CHECK(sent[4].at("params").at("value").at("kind") == "end");
}

TEST_CASE("a progress destroyed while active ends itself", "[progress]") {
  rpc::InMemoryTransport out;
  {
    rpc::WorkDoneProgress progress(out, jsonrpc::Id{7});
    progress.begin("Working");
  }
  const auto sent = drain(out);
  REQUIRE(sent.size() == 2);
  CHECK(sent[1].at("params").at("token").as_int64() == 7);
  CHECK(sent[1].at("params").at("value").at("kind") == "end");
}

TEST_CASE("window/logMessage and window/showMessage", "[progress]") {
  rpc::InMemoryTransport out;
  rpc::logMessage(out, rpc::MessageType::Warning, "careful");
  rpc::showMessage(out, rpc::MessageType::Error, "broken");
  const auto sent = drain(out);
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].at("method") == "window/logMessage");
  CHECK(sent[0].at("params").at("type").as_int64() == 2);
  CHECK(sent[1].at("method") == "window/showMessage");
  CHECK(sent[1].at("params").at("message") == "broken");
}
