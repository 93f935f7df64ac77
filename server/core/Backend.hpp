// Backend.hpp - the Backend facade: what Tether can do, as a plain C++ API.
//
// Front ends (server/ide for JSON-RPC, server/cli for the terminal) call it; it reports events back
// through `Callbacks`, which the front end implements. It never sees JSON-RPC or JSON: that is the
// adapter's job, so the core can be driven from tests and from the CLI alike.
#pragma once

#include <string>

namespace tether::core {

struct VersionInfo {
  std::string name;
  std::string version;
  std::string buildType;
};

class Backend {
 public:
  // Events the core reports while it works (session state changes land here with the exchange issue).
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual void onLog(std::string_view message) = 0;
  };

  explicit Backend(Callbacks* callbacks = nullptr);

  VersionInfo version() const;

  // Stops everything the backend started and restores what it changed. Idempotent. Called on
  // `shutdown`, on end of input and on SIGTERM, before the process exits.
  void shutdown();
  bool isShutDown() const { return shutDown_; }

 private:
  Callbacks* callbacks_;
  bool shutDown_ = false;
};

}  // namespace tether::core
