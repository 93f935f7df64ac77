// Http.hpp - the HTTP request and response the REST layer exchanges with its transport.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tether::kube {

// A client certificate for one request (from the kubeconfig, or issued by an exec plugin).
struct TlsIdentity {
  std::string certificatePem;
  std::string keyPem;
  std::string certificateFile;
  std::string keyFile;
  bool empty() const { return certificatePem.empty() && certificateFile.empty(); }
};

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // from the API root, with the query: "/api/v1/namespaces/x/pods?limit=500"
  std::string body;
  std::string contentType;
  std::string accept = "application/json";
  std::vector<std::string> headers;  // "Name: value" lines added by the caller (Authorization, ...)
  TlsIdentity identity;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // zero: no overall limit (watches)
  bool stream = false;  // deliver the body as it arrives instead of collecting it
};

struct HttpResponse {
  long status = 0;  // 0 when no HTTP answer arrived
  std::string body;
  std::vector<std::string> warnings;  // texts of `Warning: 299 - "..."` headers
  std::optional<std::chrono::seconds> retryAfter;
  std::string date;            // the server's Date header (the cluster's clock, for heartbeats)
  std::string transportError;  // why no answer arrived: refused, TLS, timeout, proxy, too large
  bool ok() const { return transportError.empty() && status >= 200 && status < 300; }
};

}  // namespace tether::kube
