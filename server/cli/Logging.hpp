// Logging.hpp - spdlog set-up: stderr always, a file when asked. Never stdout, which carries protocol.
#pragma once

#include <optional>
#include <string>

namespace tether::cli {

// Returns an error message when the log file cannot be opened.
std::optional<std::string> setUpLogging(const std::string& level, const std::optional<std::string>& file);

}  // namespace tether::cli
