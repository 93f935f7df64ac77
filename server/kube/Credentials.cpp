// Credentials.cpp - choosing and caching the credential a request carries.
#include "server/kube/Credentials.hpp"

#include <fstream>
#include <sstream>

#include "support/text/Base64.hpp"

namespace tether::kube {

Credentials::Credentials(ResolvedConfig config, ExecPluginLimits limits)
    : config_(std::move(config)), limits_(limits) {}

std::string Credentials::describe() const {
  const auto& user = config_.user;
  if (user.exec) return "exec plugin " + user.exec->command;
  if (!user.token.empty()) return "bearer token";
  if (!user.tokenFile.empty()) return "token file " + user.tokenFile;
  if (!user.username.empty()) return "basic auth as " + user.username;
  if (!user.clientCertificateFile.empty() || !user.clientCertificateData.empty()) return "client certificate";
  return "no credentials";
}

AppliedCredentials Credentials::current() {
  std::lock_guard lock(mutex_);
  const auto& user = config_.user;
  AppliedCredentials applied;
  applied.identity.certificatePem = user.clientCertificateData;
  applied.identity.keyPem = user.clientKeyData;
  applied.identity.certificateFile = user.clientCertificateFile;
  applied.identity.keyFile = user.clientKeyFile;

  if (user.exec) {
    const auto now = std::chrono::system_clock::now();
    if (!execCache_ || (execCache_->expiration && *execCache_->expiration <= now)) {
      execCache_ = runExecPlugin(config_, limits_);
    }
    if (!execCache_->token.empty()) applied.headers.push_back("Authorization: Bearer " + execCache_->token);
    if (!execCache_->clientCertificatePem.empty()) {
      applied.identity = TlsIdentity{execCache_->clientCertificatePem, execCache_->clientKeyPem, {}, {}};
    }
    return applied;
  }
  if (!user.token.empty()) {
    applied.headers.push_back("Authorization: Bearer " + user.token);
  } else if (!user.tokenFile.empty()) {
    std::error_code ec;
    const auto stamp = std::filesystem::last_write_time(user.tokenFile, ec);
    if (ec) {
      throw CredentialError("user \"" + user.name + "\" (context \"" + config_.contextName +
                            "\"): tokenFile " + user.tokenFile + " cannot be read: " + ec.message());
    }
    if (fileToken_.empty() || stamp != fileTokenTime_) {
      std::ifstream in(user.tokenFile);
      std::stringstream text;
      text << in.rdbuf();
      auto token = text.str();
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
        token.pop_back();
      fileToken_ = token;
      fileTokenTime_ = stamp;
    }
    applied.headers.push_back("Authorization: Bearer " + fileToken_);
  } else if (!user.username.empty()) {
    applied.headers.push_back("Authorization: Basic " +
                              support::encodeBase64(user.username + ":" + user.password));
  }
  return applied;
}

bool Credentials::refreshAfterUnauthorized() {
  std::lock_guard lock(mutex_);
  if (config_.user.exec) {
    execCache_.reset();
    return true;
  }
  if (!config_.user.tokenFile.empty()) {
    fileToken_.clear();  // forces a re-read: the file may have been rotated within the same second
    return true;
  }
  return false;
}

}  // namespace tether::kube
