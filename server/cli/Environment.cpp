// Environment.cpp - environ, read once per call.
#include "server/cli/Environment.hpp"

extern char** environ;

namespace tether::cli {

std::map<std::string, std::string> processEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const auto equals = text.find('=');
    if (equals != std::string::npos) env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

std::vector<std::string> environmentWith(const std::map<std::string, std::string>& over) {
  auto merged = processEnvironment();
  for (const auto& [key, value] : over) merged[key] = value;
  std::vector<std::string> entries;
  for (const auto& [key, value] : merged) entries.push_back(key + "=" + value);
  return entries;
}

std::vector<char*> pointersTo(std::vector<std::string>& entries) {
  std::vector<char*> pointers;
  for (auto& entry : entries) pointers.push_back(entry.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace tether::cli
