// Backend.cpp - the facade. Sessions join it with the exchange issue.
#include "server/core/Backend.hpp"

#include "server/core/BuildInfo.hpp"

namespace tether::core {

Backend::Backend(Callbacks* callbacks) : callbacks_(callbacks) {}

VersionInfo Backend::version() const { return VersionInfo{kProductName, kVersion, kBuildType}; }

void Backend::shutdown() {
  if (shutDown_) return;
  shutDown_ = true;
  if (callbacks_ != nullptr) callbacks_->onLog("backend shut down");
}

}  // namespace tether::core
