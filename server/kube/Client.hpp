// Client.hpp - the Kubernetes REST client: CRUD, patch, delete on any resource, with the kubeconfig's
// credentials, bounded retries and typed errors.
//
// Every call has an asynchronous form (the callback runs on the transport's I/O thread: post it to your
// executor) and, for the CLI, a blocking form (`...Sync`) that must never be called from that thread.
// Objects are JSON values kept whole, so fields this client does not know survive a read-modify-write.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/kube/Credentials.hpp"
#include "server/kube/CurlTransport.hpp"
#include "server/kube/Kubeconfig.hpp"
#include "server/kube/Resources.hpp"
#include "server/kube/Result.hpp"

namespace tether::kube {

struct ClientOptions {
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(30)};
  std::chrono::milliseconds connectTimeout{std::chrono::seconds(10)};
  int maxRetries = 3;  // idempotent requests only
  std::chrono::milliseconds firstBackoff{200};
  std::chrono::milliseconds maxBackoff{std::chrono::seconds(5)};
  std::chrono::milliseconds maxRetryAfter{std::chrono::seconds(10)};  // a longer Retry-After is capped
  // Every `Warning` header the server sends (deprecations); default: logged at warning level.
  std::function<void(const std::string&)> onWarning;
};

enum class PatchType { Merge, Json, StrategicMerge, Apply };

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  std::optional<int> limit;
  std::string continueToken;
  std::string resourceVersion;
};

struct DeleteOptions {
  std::string propagationPolicy;  // Background | Foreground | Orphan; empty: the server's default
  std::optional<int> gracePeriodSeconds;
  std::string preconditionResourceVersion;
  std::string preconditionUid;
};

class Client {
 public:
  template <typename T>
  using Callback = std::function<void(Result<T>)>;
  using Json = boost::json::value;

  // Throws ConfigError for a cluster section the transport cannot use.
  explicit Client(ResolvedConfig config, ClientOptions options = {});
  ~Client();

  const ResolvedConfig& config() const { return config_; }
  CurlTransport& transport() { return *transport_; }
  Credentials& credentials() { return *credentials_; }

  // One request with credentials, retries and a 401 refresh; any HTTP answer that is not 2xx is an error.
  void send(HttpRequest request, Callback<HttpResponse> done);
  // A streaming request (watch) with credentials, after `delay`, without retries: the caller resumes.
  // Returns the transport id for cancel().
  std::uint64_t stream(HttpRequest request, CurlTransport::DataHandler onData, Callback<HttpResponse> done,
                       std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  void cancel(std::uint64_t id) { transport_->cancel(id); }

  void get(const ResourceType& type, const std::string& ns, const std::string& name, Callback<Json> done);
  void list(const ResourceType& type, const std::string& ns, const ListOptions& options, Callback<Json> done);
  void create(const ResourceType& type, const std::string& ns, const Json& object, Callback<Json> done);
  void replace(const ResourceType& type, const std::string& ns, const std::string& name, const Json& object,
               Callback<Json> done);
  void patch(const ResourceType& type, const std::string& ns, const std::string& name, PatchType patchType,
             const std::string& body, Callback<Json> done, const std::string& subresource = {},
             const std::string& fieldManager = "tether");
  void remove(const ResourceType& type, const std::string& ns, const std::string& name,
              const DeleteOptions& options, Callback<Json> done);

  // Blocking forms for the CLI and tests.
  Result<HttpResponse> sendSync(HttpRequest request);
  Result<Json> getSync(const ResourceType& type, const std::string& ns, const std::string& name);
  Result<Json> listSync(const ResourceType& type, const std::string& ns, const ListOptions& options = {});
  Result<Json> createSync(const ResourceType& type, const std::string& ns, const Json& object);
  Result<Json> replaceSync(const ResourceType& type, const std::string& ns, const std::string& name,
                           const Json& object);
  Result<Json> patchSync(const ResourceType& type, const std::string& ns, const std::string& name,
                         PatchType patchType, const std::string& body, const std::string& subresource = {});
  Result<Json> removeSync(const ResourceType& type, const std::string& ns, const std::string& name,
                          const DeleteOptions& options = {});

 private:
  struct Attempt;
  void attempt(std::shared_ptr<Attempt> state, std::chrono::milliseconds delay);
  void sendJson(HttpRequest request, Callback<Json> done);

  ResolvedConfig config_;
  ClientOptions options_;
  std::unique_ptr<Credentials> credentials_;
  std::unique_ptr<CurlTransport> transport_;
};

std::string toContentType(PatchType type);

}  // namespace tether::kube
