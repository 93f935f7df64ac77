// Labels.hpp - every label and annotation name Tether puts on cluster objects. The one place they are
// spelled: sessions write them, clean/recover and the "who holds this Service" view read them.
#pragma once

#include <map>
#include <string>

namespace tether::session::labels {

// Labels (selectable): on every object Tether creates.
inline constexpr const char* kSession = "tether.dev/session";  // the session id
inline constexpr const char* kRole = "tether.dev/role";        // shadow | router | ...
inline constexpr const char* kManagedBy = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByValue = "tether";

// Annotations.
inline constexpr const char* kOwner = "tether.dev/owner";  // user@host
inline constexpr const char* kHeartbeat =
    "tether.dev/heartbeat";  // RFC 3339, server clock, renewed while alive
inline constexpr const char* kLockedBy = "tether.dev/locked-by";  // on a changed Service: the session id
inline constexpr const char* kSince = "tether.dev/since";         // when the lock was taken (server clock)
inline constexpr const char* kOriginalSelector =
    "tether.dev/original-selector";  // the selector before, as kubectl writes one: app=orders,tier=web
inline constexpr const char* kOriginalReplicas =
    "tether.dev/original-replicas";  // strategy scale: deployment=replicas,... before scaling to 0
inline constexpr const char* kStrategy = "tether.dev/strategy";  // exchange: selector | scale
// On a Deployment that strategy scale scaled to 0: the session id, and (kOriginalReplicas) its count
// before. Writing them takes patch rights on the Deployment, so clean can trust them where it cannot trust
// a Service's annotations.
inline constexpr const char* kScaledBy = "tether.dev/scaled-by";
inline constexpr const char* kMode = "tether.dev/mode";  // exchange | connect | preview | forward

// Mesh, on the Service: the sessions sharing it ("id=owner,id=owner"; the last one out restores it) and
// the router pod its selector points at (a label of that name on the router pod carries the same value).
inline constexpr const char* kMeshSessions = "tether.dev/mesh-sessions";
inline constexpr const char* kMeshRouter = "tether.dev/mesh-router";
// Every annotation joining a mesh adds to a Service, so the last one out removes exactly these.
inline constexpr const char* kServiceMeshAnnotations[] = {kMeshSessions, kMeshRouter, kSince, kMode,
                                                          kOriginalSelector};

// Every annotation a lock adds to a Service, so a restore removes exactly these.
inline constexpr const char* kServiceLockAnnotations[] = {
    kLockedBy, kSince, kOwner, kHeartbeat, kOriginalSelector, kOriginalReplicas, kStrategy, kMode};

// Role values.
inline constexpr const char* kRoleShadow = "shadow";
inline constexpr const char* kRoleToken = "token";      // the Secret holding the shadow's tunnel token
inline constexpr const char* kRolePreview = "preview";  // a Service `tether preview` created
inline constexpr const char* kRoleRouter = "router";    // mesh: the router pod
inline constexpr const char* kRoleStable = "stable";    // mesh: the Service that keeps the original selector

// The value of `key` in a label or annotation map, or empty.
inline std::string valueOf(const std::map<std::string, std::string>& map, const char* key) {
  const auto found = map.find(key);
  return found == map.end() ? std::string() : found->second;
}

}  // namespace tether::session::labels
