// FuzzKubeconfig.cpp - libFuzzer target for the kubeconfig loader: any text either parses and resolves,
// or is refused with a ConfigError; nothing else may escape (no crash, no other exception, no hang).
// fuzz-links: tether_kubeconfig
#include <cstdint>
#include <string>

#include "server/kube/Kubeconfig.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = tether::kube::parseKubeconfig(text, "/fuzz/home/.kube/config", "/fuzz/home");
    if (!config.currentContext.empty()) tether::kube::resolveContext(config, {});
  } catch (const tether::kube::ConfigError&) {
    // Refused with a message: the expected outcome for malformed input.
  }
  return 0;
}
