// ClusterQueries.hpp - read-only questions about clusters for the pickers: contexts, namespaces, Services
// with who holds each (the "birdseye" view). Plain C++ types; no JSON.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/kube/Typed.hpp"

namespace tether::core {

// Who has to act on an error (mirrors the protocol's error.data.category without knowing the protocol).
enum class ErrorCategory { User, Config, Cluster, Internal };

// The one thing that resolves an error, for clients to name in their own terms (error.data.reason and
// error.data.field in PROTOCOL.md); both empty when the message and hint say it all.
struct ErrorDetail {
  std::string reason;  // "service-not-found", "invalid-field", ...
  std::string field;   // the request field to change, by its protocol name ("target", "expose", ...)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, std::string message, std::string hint = {}, ErrorDetail detail = {})
      : std::runtime_error(std::move(message)),
        category_(category),
        hint_(std::move(hint)),
        detail_(std::move(detail)) {}
  ErrorCategory category() const { return category_; }
  const std::string& hint() const { return hint_; }
  const ErrorDetail& detail() const { return detail_; }

 private:
  ErrorCategory category_;
  std::string hint_;
  ErrorDetail detail_;
};

// kubectl's --kubeconfig, --context and -n, as the CLI or the IDE gives them.
struct ConnectionOptions {
  std::optional<std::string> kubeconfig;
  std::optional<std::string> context;
  std::optional<std::string> namespaceName;
};

struct ContextSummary {
  std::string name;
  std::string cluster;
  std::string user;
  std::string namespaceName;
  std::string server;
  bool current = false;
};

struct ContextList {
  std::string current;
  std::vector<ContextSummary> contexts;
  std::vector<std::string> files;
};

struct Holder {
  std::string session;
  std::string mode;
  std::string owner;
  std::string since;
};

struct ServiceView {
  kube::ServiceSummary service;
  std::optional<Holder> heldBy;
  std::vector<Holder> meshedBy;  // mesh: every session sharing the Service (mode "mesh")
  std::string stableOf;          // a mesh's stable Service: the meshed Service it keeps the pods of
};

}  // namespace tether::core
