// ApiErrorTests.cpp - Status bodies become typed errors that keep the server's message; garbage does not
// crash.
#include <catch2/catch.hpp>

#include "server/kube/ApiError.hpp"
#include "server/kube/Resources.hpp"

using namespace tether::kube;

TEST_CASE("Status answers become typed errors", "[kube]") {
  HttpResponse response;
  response.status = 422;
  response.body =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"Pod \"p\" is invalid: spec.containers[0].image: Required value","reason":"Invalid","details":{"causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].image"}]},"code":422})";
  const auto error = apiErrorFrom(response, "POST", "/api/v1/namespaces/x/pods");
  CHECK(error.reason == ApiReason::Invalid);
  CHECK(error.message == "Pod \"p\" is invalid: spec.containers[0].image: Required value");
  REQUIRE(error.causes.size() == 1);
  CHECK(error.causes[0].field == "spec.containers[0].image");
  CHECK_THAT(error.describe(),
             Catch::StartsWith("Invalid: Pod") && Catch::EndsWith("(POST /api/v1/namespaces/x/pods)"));

  response.status = 409;
  response.body = R"({"kind":"Status","reason":"Conflict","message":"the object has been modified"})";
  CHECK(apiErrorFrom(response, "PUT", "/x").reason == ApiReason::Conflict);
  response.status = 410;
  response.body =
      R"json({"kind":"Status","reason":"Expired","message":"too old resource version: 1 (5)"})json";
  CHECK(apiErrorFrom(response, "GET", "/x").reason == ApiReason::Expired);
}

TEST_CASE("non-Status answers are reported by HTTP code with a printable excerpt", "[kube]") {
  HttpResponse response;
  response.status = 502;
  response.body = std::string("<html>\x01\x02 bad gateway</html>");
  const auto error = apiErrorFrom(response, "GET", "/api");
  CHECK(error.reason == ApiReason::Other);
  CHECK(error.message.find('\x01') == std::string::npos);
  CHECK_THAT(error.message, Catch::Contains("HTTP 502"));
  response.status = 403;
  response.body = "{truncated";
  CHECK(apiErrorFrom(response, "GET", "/api").reason == ApiReason::Forbidden);
  HttpResponse transport;
  transport.transportError = "cannot reach the API server https://10.0.0.1:6443: Connection refused";
  const auto unreachable = apiErrorFrom(transport, "GET", "/api");
  CHECK(unreachable.reason == ApiReason::Transport);
  CHECK_THAT(unreachable.describe(), Catch::Contains("https://10.0.0.1:6443"));
}

TEST_CASE("resource paths, with and without group and namespace", "[kube]") {
  CHECK(resourcePath(resources::pods, "ns", "p1", "portforward") ==
        "/api/v1/namespaces/ns/pods/p1/portforward");
  CHECK(resourcePath(resources::deployments, "ns", "d") == "/apis/apps/v1/namespaces/ns/deployments/d");
  CHECK(resourcePath(resources::namespaces, "ignored") == "/api/v1/namespaces");
  CHECK(urlEscape("app in (a,b)") == "app%20in%20%28a%2Cb%29");
}
