// KubeconfigTests.cpp - kubeconfig parsing, merging and resolution over a corpus of files, malformed
// ones included; every error must name the file, the context and the field.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "server/kube/ExecPlugin.hpp"
#include "server/kube/Kubeconfig.hpp"
#include "support/text/Base64.hpp"

using namespace tether::kube;
namespace fs = std::filesystem;

namespace {

// A scratch HOME with files written by the test.
struct Home {
  fs::path dir = fs::temp_directory_path() / ("tether-kubeconfig-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(reinterpret_cast<std::uintptr_t>(this)));
  Home() { fs::create_directories(dir / ".kube"); }
  ~Home() { fs::remove_all(dir); }
  std::string write(const std::string& relative, const std::string& text) {
    const auto path = dir / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }
  ConfigEnvironment env(std::optional<std::string> kubeconfig = std::nullopt) const {
    return ConfigEnvironment{std::move(kubeconfig), dir.string()};
  }
};

const std::string kBase = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c1
  cluster:
    server: https://rancher.example/k8s/clusters/c-1
    certificate-authority: certs/ca.pem
    tls-server-name: api.internal
    proxy-url: socks5://127.0.0.1:1080
users:
- name: alice
  user:
    token: abc123
- name: certs
  user:
    client-certificate: ~/certs/alice.crt
    client-key: ~/certs/alice.key
contexts:
- name: dev
  context: {cluster: c1, user: alice, namespace: team}
- name: nons
  context: {cluster: c1, user: certs}
)";

std::string errorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& error) {
    return error.what();
  }
  FAIL("expected a ConfigError");
  return {};
}

}  // namespace

TEST_CASE("a kubeconfig resolves its current context, namespace and paths", "[kube][kubeconfig]") {
  Home home;
  const auto path = home.write(".kube/config", kBase);
  const auto config = loadKubeconfig({}, home.env());
  const auto resolved = resolveContext(config, {});
  CHECK(resolved.contextName == "dev");
  CHECK(resolved.namespaceName == "team");
  CHECK(resolved.cluster.server == "https://rancher.example/k8s/clusters/c-1");
  CHECK(resolved.cluster.certificateAuthorityFile == (home.dir / ".kube/certs/ca.pem").string());
  CHECK(resolved.cluster.tlsServerName == "api.internal");
  CHECK(resolved.cluster.proxyUrl == "socks5://127.0.0.1:1080");
  CHECK(resolved.user.token == "abc123");

  const auto other = resolveContext(config, ConfigOverrides{std::nullopt, std::string("nons"), std::nullopt});
  CHECK(other.namespaceName == "default");  // only when the context names none
  CHECK(other.user.clientCertificateFile == (home.dir / "certs/alice.crt").string());
  const auto overridden =
      resolveContext(config, ConfigOverrides{std::nullopt, std::nullopt, std::string("x")});
  CHECK(overridden.namespaceName == "x");
}

TEST_CASE("KUBECONFIG merges first-wins per name, wholesale, and skips missing files", "[kube][kubeconfig]") {
  Home home;
  const auto first = home.write("a.yaml", R"(current-context: ctx-a
users:
- name: shared
  user: {token: from-a}
contexts:
- name: ctx-a
  context: {cluster: ca, user: shared}
clusters:
- name: ca
  cluster: {server: "https://a:6443"}
)");
  const auto second = home.write("b.yaml", R"(current-context: ctx-b
users:
- name: shared
  user: {token: from-b, username: bob}
contexts:
- name: ctx-b
  context: {cluster: cb, user: shared}
clusters:
- name: cb
  cluster: {server: "https://b:6443"}
)");
  const auto config =
      loadKubeconfig({}, home.env(first + ":" + home.dir.string() + "/missing.yaml:" + second));
  CHECK(config.currentContext == "ctx-a");
  CHECK(config.users.at("shared").token == "from-a");
  CHECK(config.users.at("shared").username.empty());  // wholesale: nothing of b's "shared" survives
  CHECK(config.contexts.count("ctx-b") == 1);
  CHECK(resolveContext(config, ConfigOverrides{std::nullopt, std::string("ctx-b"), std::nullopt})
            .cluster.server == "https://b:6443");
}

TEST_CASE("an explicit --kubeconfig is used alone and must exist", "[kube][kubeconfig]") {
  Home home;
  home.write(".kube/config", kBase);
  CHECK(
      errorOf([&] {
        loadKubeconfig(ConfigOverrides{std::string("/nope/config"), std::nullopt, std::nullopt}, home.env());
      }) == "--kubeconfig /nope/config: the file does not exist");
  CHECK(errorOf([&] { loadKubeconfig({}, home.env(std::string("/nope/a:/nope/b"))); }) ==
        "KUBECONFIG=/nope/a:/nope/b: none of these files exists");
  Home empty;
  fs::remove_all(empty.dir / ".kube");
  CHECK_THAT(errorOf([&] { loadKubeconfig({}, empty.env()); }),
             Catch::Contains("~/.kube/config does not exist"));
}

TEST_CASE("malformed kubeconfigs are rejected naming file, context and field", "[kube][kubeconfig]") {
  Home home;
  struct Case {
    const char* name;
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"bad base64", R"(users:
- name: alice
  user: {client-key-data: "not base64!", client-certificate-data: "QUJD"}
)",
       "~/.kube/config: user \"alice\": client-key-data is not valid base64"},
      {"YAML syntax error with line and column", "clusters:\n- name: c\n  cluster: {server: [unclosed\n",
       "~/.kube/config:4:1: not valid YAML"},
      {"clusters not a list", "clusters: 5\n", "~/.kube/config: clusters: expected a list"},
      {"entry without name", "users:\n- user: {token: x}\n", "~/.kube/config: users[0]: name is missing"},
      {"bad boolean",
       "clusters:\n- name: c\n  cluster: {server: 'https://x', insecure-skip-tls-verify: maybe}\n",
       "~/.kube/config: cluster \"c\": insecure-skip-tls-verify: expected true or false, got \"maybe\""},
      {"exec v1 without interactiveMode",
       "users:\n- name: e\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: "
       "plugin}\n",
       "~/.kube/config: user \"e\": exec.interactiveMode must be set"},
      {"exec with an unknown apiVersion",
       "users:\n- name: e\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: "
       "p}\n",
       "exec.apiVersion \"client.authentication.k8s.io/v1alpha1\" is not supported"},
      {"not a map", "- just\n- a list\n", "~/.kube/config: expected a kubeconfig"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto path = home.write(".kube/config", c.text);
      CHECK_THAT(errorOf([&] { loadKubeconfig({}, home.env()); }), Catch::Contains(c.expected));
    }
  }
}

TEST_CASE("resolution errors name the context", "[kube][kubeconfig]") {
  Home home;
  home.write(".kube/config", R"(current-context: dev
clusters:
- name: c1
  cluster: {server: "ftp://x"}
users:
- name: gke
  user:
    auth-provider: {name: gcp}
- name: half
  user: {client-certificate-data: QUJD}
- name: both
  user: {token: t, username: u, password: p}
contexts:
- name: dev
  context: {cluster: c1, user: gke}
- name: ghost
  context: {cluster: nowhere, user: gke}
- name: half
  context: {cluster: c1, user: half}
)");
  const auto config = loadKubeconfig({}, home.env());
  auto resolveAs = [&](const char* name) {
    resolveContext(config, ConfigOverrides{std::nullopt, std::string(name), std::nullopt});
  };
  CHECK_THAT(errorOf([&] { resolveAs("ghost"); }),
             Catch::Contains("context \"ghost\": cluster \"nowhere\" is not defined"));
  CHECK_THAT(errorOf([&] { resolveAs("missing"); }),
             Catch::Contains("context \"missing\" is not defined (known: dev, ghost, half)"));
  CHECK_THAT(errorOf([&] { resolveAs("dev"); }),
             Catch::Contains("server \"ftp://x\" must start with https://"));
}

TEST_CASE("insecure-skip-tls-verify with a certificate authority is refused, as kubectl refuses it",
          "[kube][kubeconfig]") {
  Home home;
  home.write(".kube/config", R"(current-context: both
clusters:
- name: c
  cluster: {server: "https://x", certificate-authority-data: QUJD, insecure-skip-tls-verify: true}
- name: insecure
  cluster: {server: "https://x", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: both
  context: {cluster: c, user: u}
- name: insecure
  context: {cluster: insecure, user: u}
)");
  const auto config = loadKubeconfig({}, home.env());
  CHECK_THAT(
      errorOf([&] { resolveContext(config, {}); }),
      Catch::Contains("cluster \"c\" (context \"both\")") &&
          Catch::Contains("specifying a root certificates file with the insecure flag is not allowed"));
  // Skipping verification without a CA stays allowed, as in kubectl.
  CHECK(resolveContext(config, ConfigOverrides{std::nullopt, std::string("insecure"), std::nullopt})
            .cluster.insecureSkipTlsVerify);
}

TEST_CASE("legacy auth providers name their replacement; half a client certificate is refused",
          "[kube][kubeconfig]") {
  Home home;
  home.write(".kube/config", R"(clusters:
- name: c1
  cluster: {server: "https://x"}
users:
- name: gke
  user:
    auth-provider: {name: gcp}
- name: half
  user: {client-certificate-data: QUJD}
- name: both
  user: {token: t, username: u, password: p}
contexts:
- {name: gke, context: {cluster: c1, user: gke}}
- {name: half, context: {cluster: c1, user: half}}
- {name: both, context: {cluster: c1, user: both}}
)");
  const auto config = loadKubeconfig({}, home.env());
  auto resolveAs = [&](const char* name) {
    resolveContext(config, ConfigOverrides{std::nullopt, std::string(name), std::nullopt});
  };
  CHECK_THAT(
      errorOf([&] { resolveAs("gke"); }),
      Catch::Contains("user \"gke\" (context \"gke\"): auth-provider \"gcp\" is no longer supported") &&
          Catch::Contains("gke-gcloud-auth-plugin"));
  CHECK_THAT(errorOf([&] { resolveAs("half"); }),
             Catch::Contains("client-certificate is set but client-key is missing"));
  CHECK_THAT(errorOf([&] { resolveAs("both"); }),
             Catch::Contains("username/password and a bearer token cannot both be set"));
}

TEST_CASE("base64 is strict", "[kube]") {
  CHECK(tether::support::decodeBase64("QUJD") == "ABC");
  CHECK(tether::support::decodeBase64("QUI=") == "AB");
  CHECK(tether::support::decodeBase64("QQ==") == "A");
  CHECK(tether::support::decodeBase64("QU\nJD") == "ABC");
  CHECK_FALSE(tether::support::decodeBase64("QUJ").has_value());
  CHECK_FALSE(tether::support::decodeBase64("Q===").has_value());
  CHECK_FALSE(tether::support::decodeBase64("QQ=A").has_value());
  CHECK_FALSE(tether::support::decodeBase64("QU*D").has_value());
  CHECK(tether::support::encodeBase64("admin:secret") == "YWRtaW46c2VjcmV0");
  for (const std::string& text : {std::string(), std::string("a"), std::string("ab"), std::string("abc"),
                                  std::string("\x00\xff\x10", 3)}) {
    CHECK(tether::support::decodeBase64(tether::support::encodeBase64(text)) == text);
  }
}

TEST_CASE("ExecCredential output is parsed and checked", "[kube]") {
  const auto v1 = "client.authentication.k8s.io/v1";
  const auto token = parseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t1","expirationTimestamp":"2030-01-02T03:04:05Z"}})",
      v1, "alice");
  CHECK(token.token == "t1");
  REQUIRE(token.expiration.has_value());
  CHECK(std::chrono::system_clock::to_time_t(*token.expiration) == 1893553445);
  const auto certs = parseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","status":{"clientCertificateData":"C","clientKeyData":"K"}})",
      v1, "a");
  CHECK(certs.clientKeyPem == "K");
  CHECK_FALSE(certs.expiration.has_value());
  CHECK_THROWS_WITH(parseExecCredential("not json", v1, "alice"),
                    Catch::Contains("exec plugin of user \"alice\""));
  CHECK_THROWS_WITH(
      parseExecCredential(R"({"apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"x"}})",
                          v1, "a"),
      Catch::Contains("but the kubeconfig asks for client.authentication.k8s.io/v1"));
  CHECK_THROWS_WITH(
      parseExecCredential(R"({"apiVersion":"client.authentication.k8s.io/v1","status":{}})", v1, "a"),
      Catch::Contains("neither a token nor a client certificate"));
  CHECK_THROWS_WITH(
      parseExecCredential(
          R"({"apiVersion":"client.authentication.k8s.io/v1","status":{"clientCertificateData":"C"}})", v1,
          "a"),
      Catch::Contains("both are needed"));
}

TEST_CASE("RFC 3339 timestamps", "[kube]") {
  CHECK(parseRfc3339("2026-11-27T12:00:00Z").has_value());
  CHECK(parseRfc3339("2026-11-27T12:00:00.123456Z") == parseRfc3339("2026-11-27T12:00:00Z"));
  CHECK(parseRfc3339("2026-11-27T14:00:00+02:00") == parseRfc3339("2026-11-27T12:00:00Z"));
  CHECK_FALSE(parseRfc3339("2026-11-27 12:00").has_value());
  CHECK_FALSE(parseRfc3339("2026-11-27T12:00:00Zjunk").has_value());
  CHECK(parseRfc3339("2026-11-27T10:30:00-01:30") == parseRfc3339("2026-11-27T12:00:00Z"));
  // The offset is exactly [+-]HH:MM. "+1:2" once made the parser step past the end of the text (ASan).
  for (const char* bad : {"2026-11-27T12:00:00+1:2", "2026-11-27T12:00:00+", "2026-11-27T12:00:00+01",
                          "2026-11-27T12:00:00+01:", "2026-11-27T12:00:00+0100", "2026-11-27T12:00:00+24:00",
                          "2026-11-27T12:00:00+01:60", "2026-11-27T12:00:00+01:00x"}) {
    INFO(bad);
    CHECK_FALSE(parseRfc3339(bad).has_value());
  }
}
