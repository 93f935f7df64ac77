// ProxyAuth.cpp - credentials, their constant-time checks, and the refusal log.
#include "server/tunnel/ProxyAuth.hpp"

#include <spdlog/spdlog.h>

#include "protocol/http1/Message.hpp"
#include "protocol/tunnel/Messages.hpp"
#include "support/text/Base64.hpp"
#include "support/text/Random.hpp"

namespace tether::tunnelclient {

ProxyCredentials ProxyCredentials::generate() {
  return ProxyCredentials{"tether", support::randomHex(16)};
}

ProxyAuth::ProxyAuth(ProxyCredentials credentials)
    : required_(true),
      credentials_(std::move(credentials)),
      expectedBasic_(support::encodeBase64(credentials_.user + ":" + credentials_.password)) {}

ProxyAuth ProxyAuth::none() {
  return ProxyAuth();
}

bool ProxyAuth::acceptsProxyAuthorization(std::string_view value) const {
  if (!required_) return true;
  // credentials = auth-scheme 1*SP token68 (RFC 9110 §11.4); the scheme is case-insensitive.
  const auto space = value.find(' ');
  if (space == std::string_view::npos || !http1::equalsIgnoreCase(value.substr(0, space), "Basic"))
    return false;
  std::string_view token = value.substr(space);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return tunnel::constantTimeEqual(token, expectedBasic_);
}

bool ProxyAuth::acceptsUserPassword(std::string_view user, std::string_view password) const {
  if (!required_) return true;
  // Both compared whole, so the time taken does not tell which one was wrong.
  const bool userOk = tunnel::constantTimeEqual(user, credentials_.user);
  const bool passwordOk = tunnel::constantTimeEqual(password, credentials_.password);
  return userOk && passwordOk;
}

std::size_t ProxyAuth::noteRefusal(std::string_view proxy, std::string_view peer,
                                   std::string_view why) const {
  const std::size_t refused = ++*refusals_;
  if (refused == 1) {
    spdlog::warn(
        "event=proxy_client_refused proxy={} peer={} reason=\"{}\" note=\"only processes started with the "
        "session's launch environment hold the credentials; later refusals are logged at debug level\"",
        proxy, peer, why);
  } else {
    spdlog::debug("event=proxy_client_refused proxy={} peer={} reason=\"{}\" refused={}", proxy, peer, why,
                  refused);
  }
  return refused;
}

}  // namespace tether::tunnelclient
