// Completion.hpp - `tether completion bash|zsh`: the shell script that completes tether's commands and flags,
// and, as kubectl's does, namespace, context and Service names asked of the cluster (through the hidden
// `tether __complete WHAT` with the cluster flags typed so far).
#pragma once

#include <string>

namespace tether::cli {

// The script for `shell` ("bash" or "zsh"; Options checked it).
std::string completionScript(const std::string& shell);

}  // namespace tether::cli
