// LaunchEnvTests.cpp - the proxy environment a session gives the launched process.
#include <catch2/catch.hpp>

#include "server/session/LaunchEnv.hpp"

using namespace tether::session;

TEST_CASE("the launch environment points every proxy variable at the session's proxies", "[session][env]") {
  const auto env = launchEnvironment({3128, "tether:c0ffee", "", {"laptop"}, {}});
  // The session's credentials ride in the URLs, from where curl, requests, Go and Node send them.
  CHECK(env.at("HTTP_PROXY") == "http://tether:c0ffee@127.0.0.1:3128");
  CHECK(env.at("https_proxy") == "http://tether:c0ffee@127.0.0.1:3128");
  // An http:// URL in ALL_PROXY too: a socks5h:// one makes httpx raise ImportError without socksio.
  CHECK(env.at("ALL_PROXY") == "http://tether:c0ffee@127.0.0.1:3128");
  CHECK(env.at("all_proxy") == env.at("ALL_PROXY"));
  CHECK(env.at("NO_PROXY") == "localhost,127.0.0.1,::1,laptop");
  CHECK(env.at("no_proxy") == env.at("NO_PROXY"));
  CHECK(env.at("NODE_USE_ENV_PROXY") == "1");  // Node 24+ honours the variables only when asked
  // JDK_JAVA_OPTIONS: the `java` launcher's, so javac, Gradle and the IDE's own JVMs stay quiet.
  CHECK(env.count("JAVA_TOOL_OPTIONS") == 0);
  CHECK(env.at("JDK_JAVA_OPTIONS") ==
        "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=3128 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3128 "
        "-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]|laptop");
}

TEST_CASE("the launch environment extends what the user already set", "[session][env]") {
  const auto env = launchEnvironment(
      {3128, "", "", {}, {{"NO_PROXY", "corp.example,localhost"}, {"JDK_JAVA_OPTIONS", "-Xmx1g"}}});
  CHECK(env.at("HTTP_PROXY") == "http://127.0.0.1:3128");
  // The user's exclusions stay, without duplicates.
  CHECK(env.at("NO_PROXY") == "localhost,127.0.0.1,::1,corp.example");
  CHECK(env.at("JDK_JAVA_OPTIONS").rfind("-Xmx1g -Dhttp.proxyHost=127.0.0.1", 0) == 0);
}

TEST_CASE("JVM debuggees get the credentials agent and Basic for CONNECT", "[session][env]") {
  const auto env = launchEnvironment({3128, "tether:c0ffee", "/opt/tether/tether-jvm-agent.jar", {}, {}});
  CHECK_THAT(env.at("JDK_JAVA_OPTIONS"),
             Catch::EndsWith(
                 " -javaagent:/opt/tether/tether-jvm-agent.jar -Djdk.http.auth.tunneling.disabledSchemes="));
  const auto spaced = launchEnvironment({3128, "tether:c0ffee", "/my dir/a.jar", {}, {}});
  CHECK_THAT(spaced.at("JDK_JAVA_OPTIONS"), Catch::Contains("-javaagent:\"/my dir/a.jar\""));
}
