// ExecCredential.cpp - reading an exec plugin's stdout: the ExecCredential JSON and its RFC 3339 expiry.
// Sans-io (the fuzzer and the unit tests feed it text); ExecPlugin.cpp runs the plugin.
#include "server/kube/ExecCredential.hpp"

#include <boost/json.hpp>

#include <ctime>

namespace tether::kube {

namespace json = boost::json;

std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  if (*rest == '.') {
    ++rest;
    while (*rest >= '0' && *rest <= '9') ++rest;
  }
  long offsetSeconds = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    // Exactly [+-]HH:MM: the length is checked character by character before anything past it is read.
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!digit(rest[1]) || !digit(rest[2]) || rest[3] != ':' || !digit(rest[4]) || !digit(rest[5])) {
      return std::nullopt;
    }
    const int hours = (rest[1] - '0') * 10 + (rest[2] - '0');
    const int minutes = (rest[4] - '0') * 10 + (rest[5] - '0');
    if (hours > 23 || minutes > 59) return std::nullopt;
    offsetSeconds = (hours * 3600L + minutes * 60L) * (*rest == '+' ? 1 : -1);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  const auto seconds = timegm(&tm) - offsetSeconds;
  return std::chrono::system_clock::from_time_t(seconds);
}

ExecCredential parseExecCredential(const std::string& output, const std::string& expectedApiVersion,
                                   const std::string& userName) {
  const std::string who = "exec plugin of user \"" + userName + "\"";
  boost::system::error_code ec;
  const auto value = json::parse(output, ec);
  if (ec || !value.is_object())
    throw CredentialError(who + " printed something that is not an ExecCredential JSON object");
  const auto& object = value.get_object();
  const auto* apiVersion = object.if_contains("apiVersion");
  if (apiVersion == nullptr || !apiVersion->is_string() || apiVersion->get_string() != expectedApiVersion) {
    throw CredentialError(who + " answered apiVersion " +
                          (apiVersion != nullptr ? json::serialize(*apiVersion) : "(none)") +
                          ", but the kubeconfig asks for " + expectedApiVersion);
  }
  const auto* status = object.if_contains("status");
  if (status == nullptr || !status->is_object()) throw CredentialError(who + " answered without a status");
  ExecCredential credential;
  const auto& fields = status->get_object();
  auto text = [&](const char* key) -> std::string {
    const auto* field = fields.if_contains(key);
    if (field == nullptr || field->is_null()) return {};
    if (!field->is_string()) throw CredentialError(who + ": status." + key + " is not a string");
    return std::string(field->get_string());
  };
  credential.token = text("token");
  credential.clientCertificatePem = text("clientCertificateData");
  credential.clientKeyPem = text("clientKeyData");
  if (credential.clientCertificatePem.empty() != credential.clientKeyPem.empty()) {
    throw CredentialError(who +
                          " returned only one of clientCertificateData and clientKeyData; both are needed");
  }
  if (credential.token.empty() && credential.clientCertificatePem.empty()) {
    throw CredentialError(who + " returned neither a token nor a client certificate");
  }
  if (const auto expiry = text("expirationTimestamp"); !expiry.empty()) {
    credential.expiration = parseRfc3339(expiry);
    if (!credential.expiration)
      throw CredentialError(who + ": expirationTimestamp \"" + expiry + "\" is not RFC 3339");
  }
  return credential;
}

}  // namespace tether::kube
