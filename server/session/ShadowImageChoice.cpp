// ShadowImageChoice.cpp - flag, config file, environment, default.
#include "server/session/ShadowImageChoice.hpp"

#include <cstdlib>
#include <fstream>

#include "protocol/tunnel/ShadowImage.hpp"

namespace tether::session {

namespace {

std::string configuredImage() {
  std::string dir;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    dir = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr) {
    dir = std::string(home) + "/.config";
  }
  std::ifstream in(dir + "/tether/config");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("shadow-image=", 0) == 0) return line.substr(13);
  }
  return {};
}

}  // namespace

std::string chooseShadowImage(const std::string& explicitImage) {
  // A configured image counts as explicit: it beats the environment, as a flag does.
  return tunnel::shadowImage(explicitImage.empty() ? configuredImage() : explicitImage,
                             std::getenv("TETHER_SHADOW_IMAGE"));
}

std::string shadowImageProblem(const std::string& image, Audience audience) {
  const auto problem = tunnel::imageReferenceProblem(image);
  if (!problem) return {};
  return "shadow image \"" + image + "\": " + *problem + " (set by " + remedy::imageSetting(audience) +
         ", or shadow-image= in ~/.config/tether/config)";
}

}  // namespace tether::session
