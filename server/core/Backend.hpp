// Backend.hpp - the Backend facade: what Tether can do, as a plain C++ API.
//
// Front ends (server/ide for JSON-RPC, server/cli for the terminal) call it; it reports events back
// through `Callbacks`, which the front end implements. It never sees JSON-RPC or JSON: that is the
// adapter's job, so the core can be driven from tests and from the CLI alike.
//
// Threading: cluster calls block on the network and throw core::Error; the IDE adapter runs them on
// the backend's worker pool (`post`), never on the protocol reader thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/core/ClusterQueries.hpp"

namespace tether::kube {
class Client;
}

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
  ~Backend();

  VersionInfo version() const;

  ContextList contexts(const ConnectionOptions& options) const;
  std::vector<kube::NamespaceSummary> namespaces(const ConnectionOptions& options);
  std::vector<ServiceView> services(const ConnectionOptions& options);

  // Runs `work` on the backend's worker pool.
  void post(std::function<void()> work);

  // Stops everything the backend started and restores what it changed. Idempotent. Called on
  // `shutdown`, on end of input and on SIGTERM, before the process exits.
  void shutdown();
  bool isShutDown() const { return shutDown_; }

 private:
  std::shared_ptr<kube::Client> clientFor(const ConnectionOptions& options);

  Callbacks* callbacks_;
  bool shutDown_ = false;
  std::mutex clientsMutex_;
  std::map<std::string, std::shared_ptr<kube::Client>>
      clients_;  // by kubeconfig + context: connections are reused
  struct Workers;
  std::unique_ptr<Workers> workers_;
};

}  // namespace tether::core
