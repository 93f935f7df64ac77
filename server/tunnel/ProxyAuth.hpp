// ProxyAuth.hpp - who may use the local proxies. They listen on 127.0.0.1, but on a shared machine (or a
// dev-container host) every local user can reach 127.0.0.1, and behind the proxies is the namespace, with
// the shadow's network identity. So each session makes random credentials, puts them in the proxy URLs of
// the launch environment (clients that honour proxy variables send them from the URL), and the proxies
// refuse whoever does not present them: HTTP with 407, SOCKS5 by choosing no method (0xFF) or by failing
// the RFC 1929 sub-negotiation.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tether::tunnelclient {

struct ProxyCredentials {
  std::string user;
  std::string password;

  // "tether" and 32 random hex digits: safe in a URL's userinfo without escaping.
  static ProxyCredentials generate();
};

class ProxyAuth {
 public:
  // Every client must present `credentials`.
  explicit ProxyAuth(ProxyCredentials credentials);
  // No credentials asked: for tether-tunnel in tests and benchmarks, and for `tether forward`'s plain ports
  // (like `kubectl port-forward`'s); never for a session's proxies.
  static ProxyAuth none();

  bool required() const { return required_; }
  const ProxyCredentials& credentials() const { return credentials_; }

  // The value of a Proxy-Authorization field ("Basic dXNlcjpwYXNz"), compared in constant time.
  bool acceptsProxyAuthorization(std::string_view value) const;
  // RFC 1929 user and password, compared in constant time.
  bool acceptsUserPassword(std::string_view user, std::string_view password) const;

  // Logs a refused client: the first refusal at warning level, later ones at debug (a client retrying
  // in a loop must not flood the log). Copies of one ProxyAuth (a session's two proxies) count together.
  // Returns how many were refused so far.
  std::size_t noteRefusal(std::string_view proxy, std::string_view peer, std::string_view why) const;

 private:
  ProxyAuth() = default;

  bool required_ = false;
  ProxyCredentials credentials_;
  std::string expectedBasic_;  // base64("user:password")
  std::shared_ptr<std::atomic<std::size_t>> refusals_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace tether::tunnelclient
