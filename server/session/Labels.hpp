// Labels.hpp - every label and annotation name Tether puts on cluster objects. The one place they are
// spelled: sessions write them, clean/recover and the "who holds this Service" view read them.
#pragma once

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
inline constexpr const char* kLockedBy =
    "tether.dev/locked-by";  // on a changed Service: session id + owner + since
inline constexpr const char* kOriginalSelector =
    "tether.dev/original-selector";                      // JSON of the selector before
inline constexpr const char* kMode = "tether.dev/mode";  // exchange | mesh | preview | connect

}  // namespace tether::session::labels
