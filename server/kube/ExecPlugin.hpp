// ExecPlugin.hpp - client.authentication.k8s.io exec credential plugins (gke-gcloud-auth-plugin,
// `aws eks get-token`, kubelogin, ...), run exactly as client-go runs them.
//
// The plugin gets KUBERNETES_EXEC_INFO (with the cluster when provideClusterInfo is set) and never our
// stdin: in `tether serve --stdio` stdin carries the IDE protocol, so plugins run non-interactive and an
// `interactiveMode: Always` plugin is refused with a clear error.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include "server/kube/Kubeconfig.hpp"

namespace tether::kube {

class CredentialError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ExecCredential {
  std::string token;
  std::string clientCertificatePem;
  std::string clientKeyPem;
  std::optional<std::chrono::system_clock::time_point> expiration;  // nullopt: valid for the process lifetime
};

struct ExecPluginLimits {
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::size_t maxOutputBytes = 1u << 20;
};

// Runs the plugin and parses its ExecCredential. Throws CredentialError naming the user and the problem
// (missing binary with its installHint, non-zero exit with its stderr, bad output).
ExecCredential runExecPlugin(const ResolvedConfig& config, const ExecPluginLimits& limits = {});

// Parses the plugin's stdout (separate for unit tests and the fuzzer).
ExecCredential parseExecCredential(const std::string& output, const std::string& expectedApiVersion,
                                   const std::string& userName);

// RFC 3339 ("2026-11-27T12:00:00Z", fractional seconds and offsets accepted); nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text);

}  // namespace tether::kube
