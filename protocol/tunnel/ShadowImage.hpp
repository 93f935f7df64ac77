// ShadowImage.hpp - the one place that names the agent's container image, so the session layer, docs and
// shadow/Dockerfile agree. The default is registry-qualified and tagged with the project version, so each
// release runs its own agent; a mirror or a digest (registry/name@sha256:...) is chosen by a flag or IDE
// setting, the config file's `shadow-image=`, or TETHER_SHADOW_IMAGE (the caller passes an explicit value
// first).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/tunnel/Version.hpp"

namespace tether::tunnel {

inline constexpr std::string_view kShadowImageRepository = "ghcr.io/tether-dev/tether-shadow";

inline std::string defaultShadowImage() {
  return std::string(kShadowImageRepository) + ":" + std::string(kProjectVersion);
}

// `explicitImage` (a flag or setting) wins, then `fromEnv` (TETHER_SHADOW_IMAGE), then the default.
inline std::string shadowImage(std::string_view explicitImage, const char* fromEnv) {
  if (!explicitImage.empty()) return std::string(explicitImage);
  if (fromEnv && *fromEnv) return fromEnv;
  return defaultShadowImage();
}

// Why `image` is not a container image reference ([registry[:port]/]path[:tag][@sha256:<64 hex>]), or
// nullopt when it is one.
std::optional<std::string> imageReferenceProblem(std::string_view image);

}  // namespace tether::tunnel
