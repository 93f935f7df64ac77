// LogRedactionTests.cpp - what a trace log shows of a JSON-RPC message: no environment value, no value
// whose key names a secret, no URL password; the rest stays readable.
#include <catch2/catch.hpp>

#include "server/rpc/LogRedaction.hpp"

using tether::rpc::redactedForLog;

TEST_CASE("environments, secret-named values and URL passwords are taken out of logged messages", "[rpc]") {
  const auto logged = redactedForLog(
      R"({"jsonrpc":"2.0","id":1,"method":"tether/session/start","params":{"namespace":"shop",)"
      R"("baseEnv":{"DB_PASSWORD":"hunter2","PATH":"/usr/bin"},"workDoneToken":"t1",)"
      R"("kubeconfig":"/home/me/.kube/config","settings":{"apiToken":"abc","Authorization":"Bearer xyz",)"
      R"("nested":[{"clientSecret":"s3"}]},"proxy":"http://tether:0123abcd@127.0.0.1:3128/x"}})");
  for (const char* secret : {"hunter2", "/usr/bin", "abc", "Bearer xyz", "s3", "0123abcd"}) {
    INFO(secret);
    CHECK(logged.find(secret) == std::string::npos);
  }
  // What helps debugging stays: names, paths, the progress token, the URL without its password.
  for (const char* kept :
       {"\"DB_PASSWORD\":\"<redacted>\"", "\"PATH\":\"<redacted>\"", "\"namespace\":\"shop\"",
        "\"workDoneToken\":\"t1\"", "/home/me/.kube/config", "http://tether:<redacted>@127.0.0.1:3128/x"}) {
    INFO(kept);
    CHECK(logged.find(kept) != std::string::npos);
  }
}

TEST_CASE("a launch environment in a result is redacted too; non-JSON is not shown", "[rpc]") {
  const auto logged = redactedForLog(
      R"({"jsonrpc":"2.0","id":2,"result":{"launch":{"env":{"HTTP_PROXY":"http://tether:pw@127.0.0.1:1"},)"
      R"("unset":["A"]}}})");
  CHECK(logged.find("pw") == std::string::npos);
  CHECK(logged.find("\"unset\":[\"A\"]") != std::string::npos);
  CHECK(redactedForLog("token=abc not json") == "(18 bytes, not JSON: not shown)");
}

TEST_CASE("every URL password in a string is redacted, not only the first", "[rpc]") {
  const auto logged = redactedForLog(
      R"({"note":"via http://a:one@h1/ then socks5h://b:two@h2:1080 and https://plain.example/x"})");
  CHECK(logged.find("one") == std::string::npos);
  CHECK(logged.find("two") == std::string::npos);
  CHECK(logged.find(
            "http://a:<redacted>@h1/ then socks5h://b:<redacted>@h2:1080 and https://plain.example/x") !=
        std::string::npos);
}
