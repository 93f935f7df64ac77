// ShadowImage.hpp - the one place that names the agent's container image, so the session layer, docs and
// shadow/Dockerfile agree. The default follows the project version; TETHER_SHADOW_IMAGE (or an explicit
// value from a flag or setting, which the caller passes first) overrides it.
#pragma once

#include <string>
#include <string_view>

namespace tether::tunnel {

inline constexpr std::string_view kDefaultShadowImage = "tether-shadow:0.1.0";

// `explicitImage` (a flag or setting) wins, then `fromEnv` (TETHER_SHADOW_IMAGE), then the default.
inline std::string shadowImage(std::string_view explicitImage, const char* fromEnv) {
  if (!explicitImage.empty()) return std::string(explicitImage);
  if (fromEnv && *fromEnv) return fromEnv;
  return std::string(kDefaultShadowImage);
}

}  // namespace tether::tunnel
