// ExposeTests.cpp - `--expose` parsing and resolution against a Service's ports.
#include <catch2/catch.hpp>

#include "server/session/Expose.hpp"

using namespace tether;
using session::ExposeError;

namespace {
kube::ServiceSummary orders() {
  kube::ServiceSummary service;
  service.name = "orders";
  service.namespaceName = "shop";
  service.ports = {{"http", 80, "8080", "TCP", 0, ""}, {"grpc", 9090, "grpc-port", "TCP", 0, ""}};
  return service;
}
}  // namespace

TEST_CASE("expose forms: local:remote, bare port, lists", "[session][expose]") {
  const auto specs = session::parseExpose({"12001:8080,9000", "7000:grpc"});
  REQUIRE(specs.size() == 3);
  CHECK(specs[0].local == 12001);
  CHECK(specs[0].remote == "8080");
  CHECK(specs[1].local == 9000);
  CHECK(specs[1].remote.empty());
  CHECK(specs[2].remote == "grpc");
}

TEST_CASE("expose syntax errors name the item", "[session][expose]") {
  CHECK_THROWS_WITH(session::parseExpose({}), Catch::Contains("--expose is required"));
  CHECK_THROWS_WITH(session::parseExpose({"abc:80"}),
                    "--expose abc:80: local port \"abc\" is not a port number (1-65535)");
  CHECK_THROWS_WITH(session::parseExpose({"70000"}), Catch::Contains("is not a port number"));
  CHECK_THROWS_WITH(session::parseExpose({"80:"}),
                    Catch::Contains("must be a port number (1-65535) or a port name"));
  CHECK_THROWS_WITH(session::parseExpose({"80:99999"}), Catch::Contains("must be a port number"));
  CHECK_THROWS_WITH(session::parseExpose({"80,,81"}), Catch::Contains("empty item"));
}

TEST_CASE("remote matches the Service port by number or name, else its targetPort", "[session][expose]") {
  const auto service = orders();
  auto one = [&](const std::string& text) {
    return session::resolveExpose(session::parseExpose({text}), service).at(0);
  };
  CHECK(one("12001:80").servicePort == 80);
  CHECK(one("12001:http").servicePort == 80);
  CHECK(one("12001:8080").servicePort == 80);  // by targetPort, as kt-connect users write it
  CHECK(one("8080").local == 8080);
  CHECK(one("8080").servicePort == 80);
  CHECK(one("7000:grpc-port").servicePort == 9090);
  CHECK(one("7000:grpc").targetPort == "grpc-port");
}

TEST_CASE("a bad remote lists the valid ports", "[session][expose]") {
  const auto service = orders();
  CHECK_THROWS_WITH(session::resolveExpose(session::parseExpose({"12001:81"}), service),
                    "--expose 12001:81: service orders in namespace shop has no port 81; its ports are "
                    "80 (http) -> 8080, 9090 (grpc) -> grpc-port");
  CHECK_THROWS_WITH(session::resolveExpose(session::parseExpose({"1:80,1:9090"}), service),
                    "--expose: local port 1 is given twice");
  CHECK_THROWS_WITH(session::resolveExpose(session::parseExpose({"1:80,2:http"}), service),
                    "--expose: Service port 80 is exposed twice");
}
