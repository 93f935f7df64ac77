// ModeFactory.hpp - internal to server/core: a front end's SessionRequest checked for its mode (the mode
// parsed once, the ports parsed once, each mode's own fields) and turned into the session layer's typed
// SessionSpec. Errors name the JSON field for IDE callers and the flag for CLI users.
#pragma once

#include "server/core/SessionTypes.hpp"

namespace tether::core {

// Throws core::Error (category user) naming what is wrong and what to write instead.
session::SessionSpec specFor(const SessionRequest& request);

}  // namespace tether::core
