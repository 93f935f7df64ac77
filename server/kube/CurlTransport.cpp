// CurlTransport.cpp - the libcurl I/O thread.
#include "server/kube/CurlTransport.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace tether::kube {

namespace {

void globalInit() {
  static const bool initialised = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)initialised;
}

CURLM* asMulti(void* multi) {
  return static_cast<CURLM*>(multi);
}

struct ServerParts {
  std::string scheme, host, port, prefix;
};

ServerParts splitServer(const std::string& server) {
  ServerParts parts;
  const auto schemeEnd = server.find("://");
  parts.scheme = server.substr(0, schemeEnd);
  auto rest = server.substr(schemeEnd + 3);
  const auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  parts.prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!parts.prefix.empty() && parts.prefix.back() == '/') parts.prefix.pop_back();
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal
    const auto close = authority.find(']');
    parts.host = authority.substr(0, close + 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') parts.port = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    parts.host = authority.substr(0, colon);
    if (colon != std::string::npos) parts.port = authority.substr(colon + 1);
  }
  if (parts.port.empty()) parts.port = parts.scheme == "https" ? "443" : "80";
  return parts;
}

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

// `Warning: 299 - "text"` -> text (RFC 7234 warn-code warn-agent "warn-text").
std::string warningText(const std::string& value) {
  const auto open = value.find('"');
  const auto close = value.rfind('"');
  if (open == std::string::npos || close <= open) return value;
  // warn-text is a quoted-string: backslash escapes a character.
  std::string text;
  for (std::size_t i = open + 1; i < close; ++i) {
    if (value[i] == '\\' && i + 1 < close) ++i;
    text += value[i];
  }
  return text;
}

}  // namespace

struct CurlTransport::Transfer {
  std::uint64_t id = 0;
  HttpRequest request;
  DataHandler onData;
  DoneHandler onDone;
  std::chrono::steady_clock::time_point notBefore;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* connectTo = nullptr;
  HttpResponse response;
  std::string url;
  std::size_t maxBytes = 0;
  bool tooLarge = false;
  char errorBuffer[CURL_ERROR_SIZE] = {0};

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    curl_slist_free_all(connectTo);
  }

  long statusSoFar() const {
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }

  static std::size_t onWrite(char* data, std::size_t size, std::size_t count, void* self) {
    auto* transfer = static_cast<Transfer*>(self);
    const std::size_t bytes = size * count;
    const auto status = transfer->statusSoFar();
    if (transfer->request.stream && status >= 200 && status < 300) {
      transfer->onData(std::string_view(data, bytes));
      return bytes;
    }
    if (transfer->response.body.size() + bytes > transfer->maxBytes) {
      transfer->tooLarge = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    transfer->response.body.append(data, bytes);
    return bytes;
  }

  static std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* self) {
    auto* transfer = static_cast<Transfer*>(self);
    const std::string line(data, size * count);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      const auto value = trim(line.substr(colon + 1));
      if (name == "warning") transfer->response.warnings.push_back(warningText(value));
      if (name == "date") transfer->response.date = value;
      if (name == "retry-after") {
        try {
          transfer->response.retryAfter = std::chrono::seconds(std::stol(value));
        } catch (const std::exception&) {
          // An HTTP-date Retry-After is rare from API servers; the caller's own backoff applies then.
        }
      }
    } else if (line.rfind("HTTP/", 0) == 0) {
      // A new response (after a 100-continue or a proxy's CONNECT answer) starts a fresh header set.
      transfer->response.warnings.clear();
    }
    return size * count;
  }
};

CurlTransport::CurlTransport(TransportConfig config) : config_(std::move(config)) {
  globalInit();
  multi_ = curl_multi_init();
  curl_multi_setopt(asMulti(multi_), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  thread_ = std::thread([this] { run(); });
}

CurlTransport::~CurlTransport() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  curl_multi_wakeup(asMulti(multi_));
  thread_.join();
  curl_multi_cleanup(asMulti(multi_));
}

std::uint64_t CurlTransport::start(HttpRequest request, DataHandler onData, DoneHandler onDone,
                                   std::chrono::milliseconds delay) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->onData = std::move(onData);
  transfer->onDone = std::move(onDone);
  transfer->notBefore = std::chrono::steady_clock::now() + delay;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    id = nextId_++;
    transfer->id = id;
    queued_.push_back(std::move(transfer));
  }
  curl_multi_wakeup(asMulti(multi_));
  return id;
}

void CurlTransport::cancel(std::uint64_t id) {
  {
    std::lock_guard lock(mutex_);
    cancelled_.push_back(id);
  }
  curl_multi_wakeup(asMulti(multi_));
}

void CurlTransport::launch(std::unique_ptr<Transfer> transfer) {
  auto* t = transfer.get();
  t->easy = curl_easy_init();
  t->maxBytes = config_.maxResponseBytes;
  const auto parts = splitServer(config_.server);
  const bool rename = !config_.tlsServerName.empty();
  // tls-server-name: connect to the real host, but verify (and send SNI for) the configured name.
  const auto host = rename ? config_.tlsServerName : parts.host;
  t->url = parts.scheme + "://" + host + ":" + parts.port + parts.prefix + t->request.path;
  if (rename) {
    t->connectTo = curl_slist_append(
        nullptr, (config_.tlsServerName + ":" + parts.port + ":" + parts.host + ":" + parts.port).c_str());
    curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, t->connectTo);
  }
  CURL* easy = t->easy;
  curl_easy_setopt(easy, CURLOPT_URL, t->url.c_str());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errorBuffer);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connectTimeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(t->request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::onWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::onHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "tether/0.1 (kubernetes client)");
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  if (t->request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, t->request.method.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request.body.size()));
  }
  // TLS: verification stays on unless the kubeconfig turns it off.
  if (config_.insecureSkipTlsVerify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!config_.certificateAuthorityPem.empty()) {
    curl_blob blob{const_cast<char*>(config_.certificateAuthorityPem.data()),
                   config_.certificateAuthorityPem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
  } else if (!config_.certificateAuthorityFile.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, config_.certificateAuthorityFile.c_str());
  }
  const auto& identity = t->request.identity;
  if (!identity.certificatePem.empty()) {
    curl_blob cert{const_cast<char*>(identity.certificatePem.data()), identity.certificatePem.size(),
                   CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(identity.keyPem.data()), identity.keyPem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!identity.certificateFile.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, identity.certificateFile.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLKEY, identity.keyFile.c_str());
  }
  if (!config_.proxyUrl.empty()) curl_easy_setopt(easy, CURLOPT_PROXY, config_.proxyUrl.c_str());
  t->headers = curl_slist_append(t->headers, ("Accept: " + t->request.accept).c_str());
  if (!t->request.contentType.empty()) {
    t->headers = curl_slist_append(t->headers, ("Content-Type: " + t->request.contentType).c_str());
  }
  t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip for bodies
  for (const auto& header : t->request.headers) t->headers = curl_slist_append(t->headers, header.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);

  curl_multi_add_handle(asMulti(multi_), easy);
  running_.emplace(t->id, std::move(transfer));
}

void CurlTransport::finish(Transfer* transfer, int curlCode) {
  auto& response = transfer->response;
  curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &response.status);
  const auto code = static_cast<CURLcode>(curlCode);
  const std::string detail =
      transfer->errorBuffer[0] != '\0' ? transfer->errorBuffer : curl_easy_strerror(code);
  const auto& server = config_.server;
  if (transfer->tooLarge) {
    response.transportError = "the answer from " + server + transfer->request.path + " exceeds " +
                              std::to_string(config_.maxResponseBytes) + " bytes; refused";
  } else if (code == CURLE_OK) {
    // A complete HTTP exchange; the status code says the rest.
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    response.transportError = server + " did not answer in time (" + detail + ")";
  } else if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST) {
    response.transportError = "cannot reach the API server " + server + ": " + detail;
  } else if (code == CURLE_COULDNT_RESOLVE_PROXY || (code == CURLE_RECV_ERROR && !config_.proxyUrl.empty())) {
    response.transportError = "cannot reach the proxy " + config_.proxyUrl + " for " + server + ": " + detail;
  } else if (code == CURLE_PEER_FAILED_VERIFICATION) {
    response.transportError =
        "TLS: the certificate of " + server +
        " could not be verified (check certificate-authority and tls-server-name in the kubeconfig): " +
        detail;
  } else if (code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CACERT_BADFILE) {
    response.transportError = "TLS: a certificate or key from the kubeconfig could not be used: " + detail;
  } else if (code == CURLE_SSL_CONNECT_ERROR) {
    response.transportError = "TLS handshake with " + server + " failed: " + detail;
  } else {
    response.transportError = server + ": " + detail;
  }
  auto done = std::move(transfer->onDone);
  done(std::move(response));
}

void CurlTransport::run() {
  for (;;) {
    std::vector<std::unique_ptr<Transfer>> due;
    std::vector<std::uint64_t> cancels;
    std::vector<std::unique_ptr<Transfer>> cancelledQueued;
    bool stopping = false;
    auto wait = std::chrono::milliseconds(1000);
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
      cancels.swap(cancelled_);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = queued_.begin(); it != queued_.end();) {
        const bool isCancelled =
            stopping || std::find(cancels.begin(), cancels.end(), (*it)->id) != cancels.end();
        if (isCancelled) {
          cancelledQueued.push_back(std::move(*it));
          it = queued_.erase(it);
        } else if ((*it)->notBefore <= now) {
          due.push_back(std::move(*it));
          it = queued_.erase(it);
        } else {
          wait =
              std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>((*it)->notBefore - now) +
                                 std::chrono::milliseconds(1));
          ++it;
        }
      }
    }
    for (auto& transfer : cancelledQueued) {
      HttpResponse response;
      response.transportError = "cancelled";
      transfer->onDone(std::move(response));
    }
    if (stopping) {
      for (auto& [id, transfer] : running_) cancels.push_back(id);
    }
    for (const auto id : cancels) {
      const auto found = running_.find(id);
      if (found == running_.end()) continue;
      curl_multi_remove_handle(asMulti(multi_), found->second->easy);
      HttpResponse response;
      response.transportError = "cancelled";
      auto done = std::move(found->second->onDone);
      running_.erase(found);
      done(std::move(response));
    }
    if (stopping) return;
    for (auto& transfer : due) launch(std::move(transfer));

    int stillRunning = 0;
    curl_multi_perform(asMulti(multi_), &stillRunning);
    int remaining = 0;
    while (CURLMsg* message = curl_multi_info_read(asMulti(multi_), &remaining)) {
      if (message->msg != CURLMSG_DONE) continue;
      Transfer* transfer = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
      const auto result = message->data.result;
      curl_multi_remove_handle(asMulti(multi_), message->easy_handle);
      auto owned = std::move(running_.at(transfer->id));
      running_.erase(transfer->id);
      finish(owned.get(), result);
    }
    curl_multi_poll(asMulti(multi_), nullptr, 0, static_cast<int>(wait.count()), nullptr);
  }
}

}  // namespace tether::kube
