// Client.cpp - requests with credentials, bounded retries and typed errors.
#include "server/kube/Client.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <future>

namespace tether::kube {

namespace json = boost::json;

std::string toContentType(PatchType type) {
  switch (type) {
    case PatchType::Merge:
      return "application/merge-patch+json";
    case PatchType::Json:
      return "application/json-patch+json";
    case PatchType::StrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::Apply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

namespace {

TransportConfig transportConfigFor(const ResolvedConfig& config, const ClientOptions& options) {
  TransportConfig transport;
  transport.server = config.cluster.server;
  transport.certificateAuthorityPem = config.cluster.certificateAuthorityData;
  transport.certificateAuthorityFile = config.cluster.certificateAuthorityFile;
  transport.insecureSkipTlsVerify = config.cluster.insecureSkipTlsVerify;
  transport.tlsServerName = config.cluster.tlsServerName;
  transport.proxyUrl = config.cluster.proxyUrl;
  transport.connectTimeout = options.connectTimeout;
  return transport;
}

// A credential that could not be obtained (exec plugin failed, token file unreadable) fails the request
// as Unauthorized, with the plugin's or the file's own message.
ApiError credentialFailure(const CredentialError& error, const HttpRequest& request) {
  ApiError failure;
  failure.reason = ApiReason::Unauthorized;
  failure.message = error.what();
  failure.verb = request.method;
  failure.path = request.path;
  return failure;
}

bool idempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

// Connection-level failures that happened before the server could act on the request.
bool retryableTransport(const HttpResponse& response) {
  return response.status == 0 && !response.transportError.empty() && response.transportError != "cancelled" &&
         response.transportError.find("exceeds") == std::string::npos &&
         response.transportError.find("TLS") == std::string::npos;
}

std::string query(const ListOptions& options) {
  std::string text;
  auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    text += (text.empty() ? "?" : "&") + std::string(key) + "=" + urlEscape(value);
  };
  add("labelSelector", options.labelSelector);
  add("fieldSelector", options.fieldSelector);
  if (options.limit) add("limit", std::to_string(*options.limit));
  add("continue", options.continueToken);
  add("resourceVersion", options.resourceVersion);
  return text;
}

template <typename T, typename Start>
Result<T> waitFor(Start start) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  start([&promise](Result<T> result) { promise.set_value(std::move(result)); });
  return future.get();
}

}  // namespace

struct Client::Attempt {
  HttpRequest request;
  Callback<HttpResponse> done;
  int retriesLeft = 0;
  bool refreshedAfter401 = false;
  std::chrono::milliseconds backoff{0};
};

Client::Client(ResolvedConfig config, ClientOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      credentials_(std::make_unique<Credentials>(config_)),
      transport_(std::make_unique<CurlTransport>(transportConfigFor(config_, options_))) {
  if (!options_.onWarning) {
    options_.onWarning = [](const std::string& text) { spdlog::warn("the API server warns: {}", text); };
  }
}

Client::~Client() = default;

void Client::send(HttpRequest request, Callback<HttpResponse> done) {
  auto state = std::make_shared<Attempt>();
  if (request.timeout.count() != 0 && !request.stream) request.timeout = options_.requestTimeout;
  state->retriesLeft = idempotent(request.method) ? options_.maxRetries : 0;
  state->backoff = options_.firstBackoff;
  state->request = std::move(request);
  state->done = std::move(done);
  attempt(std::move(state), std::chrono::milliseconds(0));
}

void Client::attempt(std::shared_ptr<Attempt> state, std::chrono::milliseconds delay) {
  AppliedCredentials applied;
  try {
    applied = credentials_->current();
  } catch (const CredentialError& error) {
    state->done(credentialFailure(error, state->request));
    return;
  }
  HttpRequest request = state->request;
  request.headers.insert(request.headers.end(), applied.headers.begin(), applied.headers.end());
  if (request.identity.empty()) request.identity = applied.identity;
  // A delayed retry rides the transport's own timer queue, so no thread sleeps.
  transport_->start(
      std::move(request), [](std::string_view) {},
      [this, state](HttpResponse response) {
        for (const auto& warning : response.warnings) options_.onWarning(warning);
        if (response.ok()) {
          state->done(std::move(response));
          return;
        }
        if (response.status == 401 && !state->refreshedAfter401 && credentials_->refreshAfterUnauthorized()) {
          state->refreshedAfter401 = true;
          spdlog::info("{} {}: 401, refreshing {} and retrying once", state->request.method,
                       state->request.path, credentials_->describe());
          attempt(state, std::chrono::milliseconds(0));
          return;
        }
        const bool throttled = response.status == 429 || response.status == 503;
        if (state->retriesLeft > 0 && (throttled || retryableTransport(response))) {
          --state->retriesLeft;
          auto wait = state->backoff;
          if (response.retryAfter) {
            wait = std::min<std::chrono::milliseconds>(*response.retryAfter, options_.maxRetryAfter);
          }
          state->backoff = std::min(state->backoff * 2, options_.maxBackoff);
          spdlog::debug("{} {}: {}, retrying in {} ms", state->request.method, state->request.path,
                        response.transportError.empty() ? "HTTP " + std::to_string(response.status)
                                                        : response.transportError,
                        wait.count());
          attempt(state, wait);
          return;
        }
        state->done(apiErrorFrom(response, state->request.method, state->request.path));
      },
      delay);
}

std::uint64_t Client::stream(HttpRequest request, CurlTransport::DataHandler onData,
                             Callback<HttpResponse> done, std::chrono::milliseconds delay) {
  AppliedCredentials applied;
  try {
    applied = credentials_->current();
  } catch (const CredentialError& error) {
    done(credentialFailure(error, request));
    return 0;
  }
  request.headers.insert(request.headers.end(), applied.headers.begin(), applied.headers.end());
  if (request.identity.empty()) request.identity = applied.identity;
  request.stream = true;
  const auto verb = request.method;
  const auto path = request.path;
  return transport_->start(
      std::move(request), std::move(onData),
      [this, done = std::move(done), verb, path](HttpResponse response) {
        for (const auto& warning : response.warnings) options_.onWarning(warning);
        if (response.status == 401) credentials_->refreshAfterUnauthorized();
        if (response.ok()) {
          done(std::move(response));
        } else {
          done(apiErrorFrom(response, verb, path));
        }
      },
      delay);
}

void Client::sendJson(HttpRequest request, Callback<Json> done) {
  const auto verb = request.method;
  const auto path = request.path;
  send(std::move(request), [done = std::move(done), verb, path](Result<HttpResponse> result) {
    if (!result) {
      done(result.error());
      return;
    }
    boost::system::error_code ec;
    auto value = json::parse(result.value().body, ec);
    if (ec) {
      ApiError error;
      error.reason = ApiReason::Other;
      error.httpStatus = result.value().status;
      error.message = "the server's answer is not JSON (" + ec.message() + ")";
      error.verb = verb;
      error.path = path;
      done(std::move(error));
      return;
    }
    done(std::move(value));
  });
}

void Client::get(const ResourceType& type, const std::string& ns, const std::string& name,
                 Callback<Json> done) {
  HttpRequest request;
  request.path = resourcePath(type, ns, name);
  sendJson(std::move(request), std::move(done));
}

void Client::list(const ResourceType& type, const std::string& ns, const ListOptions& options,
                  Callback<Json> done) {
  HttpRequest request;
  request.path = resourcePath(type, ns) + query(options);
  sendJson(std::move(request), std::move(done));
}

void Client::create(const ResourceType& type, const std::string& ns, const Json& object,
                    Callback<Json> done) {
  HttpRequest request;
  request.method = "POST";
  request.path = resourcePath(type, ns) + "?fieldManager=tether";
  request.body = json::serialize(object);
  request.contentType = "application/json";
  sendJson(std::move(request), std::move(done));
}

void Client::replace(const ResourceType& type, const std::string& ns, const std::string& name,
                     const Json& object, Callback<Json> done) {
  HttpRequest request;
  request.method = "PUT";
  request.path = resourcePath(type, ns, name) + "?fieldManager=tether";
  request.body = json::serialize(object);
  request.contentType = "application/json";
  sendJson(std::move(request), std::move(done));
}

void Client::patch(const ResourceType& type, const std::string& ns, const std::string& name,
                   PatchType patchType, const std::string& body, Callback<Json> done,
                   const std::string& subresource, const std::string& fieldManager) {
  HttpRequest request;
  request.method = "PATCH";
  request.path = resourcePath(type, ns, name, subresource) + "?fieldManager=" + urlEscape(fieldManager);
  if (patchType == PatchType::Apply) request.path += "&force=true";
  request.body = body;
  request.contentType = toContentType(patchType);
  sendJson(std::move(request), std::move(done));
}

void Client::remove(const ResourceType& type, const std::string& ns, const std::string& name,
                    const DeleteOptions& options, Callback<Json> done) {
  json::object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagationPolicy.empty()) body["propagationPolicy"] = options.propagationPolicy;
  if (options.gracePeriodSeconds) body["gracePeriodSeconds"] = *options.gracePeriodSeconds;
  if (!options.preconditionResourceVersion.empty() || !options.preconditionUid.empty()) {
    json::object preconditions;
    if (!options.preconditionResourceVersion.empty())
      preconditions["resourceVersion"] = options.preconditionResourceVersion;
    if (!options.preconditionUid.empty()) preconditions["uid"] = options.preconditionUid;
    body["preconditions"] = std::move(preconditions);
  }
  HttpRequest request;
  request.method = "DELETE";
  request.path = resourcePath(type, ns, name);
  request.body = json::serialize(body);
  request.contentType = "application/json";
  sendJson(std::move(request), std::move(done));
}

Result<HttpResponse> Client::sendSync(HttpRequest request) {
  return waitFor<HttpResponse>([&](auto done) { send(std::move(request), std::move(done)); });
}
Result<Client::Json> Client::getSync(const ResourceType& type, const std::string& ns,
                                     const std::string& name) {
  return waitFor<Json>([&](auto done) { get(type, ns, name, std::move(done)); });
}
Result<Client::Json> Client::listSync(const ResourceType& type, const std::string& ns,
                                      const ListOptions& options) {
  return waitFor<Json>([&](auto done) { list(type, ns, options, std::move(done)); });
}
Result<Client::Json> Client::createSync(const ResourceType& type, const std::string& ns, const Json& object) {
  return waitFor<Json>([&](auto done) { create(type, ns, object, std::move(done)); });
}
Result<Client::Json> Client::replaceSync(const ResourceType& type, const std::string& ns,
                                         const std::string& name, const Json& object) {
  return waitFor<Json>([&](auto done) { replace(type, ns, name, object, std::move(done)); });
}
Result<Client::Json> Client::patchSync(const ResourceType& type, const std::string& ns,
                                       const std::string& name, PatchType patchType, const std::string& body,
                                       const std::string& subresource) {
  return waitFor<Json>(
      [&](auto done) { patch(type, ns, name, patchType, body, std::move(done), subresource); });
}
Result<Client::Json> Client::removeSync(const ResourceType& type, const std::string& ns,
                                        const std::string& name, const DeleteOptions& options) {
  return waitFor<Json>([&](auto done) { remove(type, ns, name, options, std::move(done)); });
}

}  // namespace tether::kube
