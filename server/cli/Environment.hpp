// Environment.hpp - this process's environment as a map, and the "NAME=value" list a child gets when a
// session's variables are laid over it (prepared before fork: the child of a threaded process may only
// call async-signal-safe functions before exec).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tether::cli {

std::map<std::string, std::string> processEnvironment();

// This process's environment with `over` laid on top, as "NAME=value" entries.
std::vector<std::string> environmentWith(const std::map<std::string, std::string>& over);

// Pointers into `entries` (and into `words` for an argv), ending in nullptr, for exec and posix_spawn.
std::vector<char*> pointersTo(std::vector<std::string>& entries);

}  // namespace tether::cli
