// Credentials.hpp - what a request carries to prove who it is, from the kubeconfig user.
//
// Bearer token, token file (re-read when the file changes, so rotated tokens are picked up), basic auth,
// client certificate (files or data), or an exec plugin whose answer is cached until its expiry and
// dropped after a 401 so the next request runs the plugin again (client-go's behaviour).
// Credentials never reach a log: describe() names the method, never the secret.
#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/kube/ExecPlugin.hpp"
#include "server/kube/Http.hpp"
#include "server/kube/Kubeconfig.hpp"

namespace tether::kube {

struct AppliedCredentials {
  std::vector<std::string> headers;  // e.g. "Authorization: Bearer ..."
  TlsIdentity identity;
};

class Credentials {
 public:
  explicit Credentials(ResolvedConfig config, ExecPluginLimits limits = {});

  // Thread-safe. Throws CredentialError (a missing token file, a failing exec plugin).
  AppliedCredentials current();
  // After a 401: forget cached exec credentials / re-read the token file. True if a retry can help.
  bool refreshAfterUnauthorized();
  std::string describe() const;

 private:
  ResolvedConfig config_;
  ExecPluginLimits limits_;
  std::mutex mutex_;
  std::optional<ExecCredential> execCache_;
  std::string fileToken_;
  std::filesystem::file_time_type fileTokenTime_{};
};

}  // namespace tether::kube
