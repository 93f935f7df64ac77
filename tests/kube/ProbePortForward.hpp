// ProbePortForward.hpp - kube_probe's port-forward commands (see ProbePortForward.cpp).
#pragma once

#include <string>
#include <vector>

#include "server/kube/Client.hpp"

namespace tether::kube::probe {

// Runs `args` (command first) if it is a port-forward command and returns its exit code; -1 otherwise.
int portForwardCommand(Client& client, const std::vector<std::string>& args);

}  // namespace tether::kube::probe
