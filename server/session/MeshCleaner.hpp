// MeshCleaner.hpp - the mesh part of `tether clean` / `tether recover`, internal to server/session. A
// meshed Service lists its members (annotation mesh-sessions); a member whose shadow pod stopped renewing
// its heartbeat (a crashed or killed backend) is taken off the list, and when nobody is left the Service
// selects its own pods again (from the saved selector, which must parse strictly) and the router pod and
// the stable Service are deleted, each only when its labels and name say Tether made it for this mesh.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "server/kube/Typed.hpp"
#include "server/session/Cleaner.hpp"

namespace tether::kube {
class Client;
}

namespace tether::session {

struct MeshCleanContext {
  kube::Client& client;
  const CleanOptions& options;
  std::chrono::system_clock::time_point now;
  CleanReport& report;
  // Deletes what session `id` created (its shadow pod and token Secret), reporting each deletion.
  std::function<void(const std::string& namespaceName, const std::string& id, const CleanAction& base)>
      deleteCreated;
};

// Cleans the meshes among `services`. Returns "namespace/id" of every member seen (dead or alive), whose
// shadow pods the mesh clean-up has already dealt with.
std::set<std::string> cleanMeshes(MeshCleanContext& context,
                                  const std::vector<kube::ServiceSummary>& services);

// The stable Service of a meshed Service: <service>-tether-stable (the Service's name cut to fit 63).
std::string stableServiceName(const std::string& service);

// The members of a meshed Service: session id -> owner ("id=owner,id=owner").
std::vector<std::pair<std::string, std::string>> meshMembers(const kube::ServiceSummary& service);

}  // namespace tether::session
