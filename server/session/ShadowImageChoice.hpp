// ShadowImageChoice.hpp - which shadow image a session runs: the flag or IDE setting, else `shadow-image=`
// in the user's config file ($XDG_CONFIG_HOME/tether/config, else ~/.config/tether/config), else
// TETHER_SHADOW_IMAGE, else the default named in protocol/tunnel/ShadowImage.hpp.
#pragma once

#include <string>

#include "server/session/Remedies.hpp"

namespace tether::session {

std::string chooseShadowImage(const std::string& explicitImage);

// Why the chosen image is not usable (named with where it came from and what to write), or empty.
std::string shadowImageProblem(const std::string& image, Audience audience = Audience::CommandLine);

}  // namespace tether::session
