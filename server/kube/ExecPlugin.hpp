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

#include "server/kube/ExecCredential.hpp"
#include "server/kube/Kubeconfig.hpp"

namespace tether::kube {

struct ExecPluginLimits {
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::size_t maxOutputBytes = 1u << 20;
};

// Runs the plugin and parses its ExecCredential. Throws CredentialError naming the user and the problem
// (missing binary with its installHint, non-zero exit with its stderr, bad output).
ExecCredential runExecPlugin(const ResolvedConfig& config, const ExecPluginLimits& limits = {});

}  // namespace tether::kube
