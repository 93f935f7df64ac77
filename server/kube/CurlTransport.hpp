// CurlTransport.hpp - HTTP(S) to one API server on libcurl, driven by one I/O thread.
//
// Threading rule: every curl handle lives on the transport's own thread, which runs curl_multi (HTTP/2
// multiplexing when the server offers it, connection reuse otherwise). Callers hand requests over with
// start() from any thread; data and completion callbacks run on the I/O thread and must return quickly
// (post to your executor). Cancellation and destruction are safe from any thread: a cancelled request
// completes with transportError "cancelled", and the destructor cancels everything and joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/kube/Http.hpp"

namespace tether::kube {

struct TransportConfig {
  std::string server;  // https://host:port[/path-prefix]
  std::string certificateAuthorityPem;
  std::string certificateAuthorityFile;
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;
  std::string proxyUrl;  // empty: HTTPS_PROXY / NO_PROXY from the environment, as kubectl
  std::chrono::milliseconds connectTimeout{std::chrono::seconds(10)};
  std::size_t maxResponseBytes = 128u * 1024u * 1024u;  // a larger answer is refused, not buffered
};

class CurlTransport {
 public:
  using DataHandler = std::function<void(std::string_view chunk)>;
  using DoneHandler = std::function<void(HttpResponse response)>;

  explicit CurlTransport(TransportConfig config);
  ~CurlTransport();
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // Starts a request after `delay` (retries use it). Returns an id for cancel().
  std::uint64_t start(HttpRequest request, DataHandler onData, DoneHandler onDone,
                      std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  void cancel(std::uint64_t id);

  const TransportConfig& config() const { return config_; }

 private:
  struct Transfer;
  void run();
  void launch(std::unique_ptr<Transfer> transfer);
  void finish(Transfer* transfer, int curlCode);

  TransportConfig config_;
  void* multi_ = nullptr;  // CURLM*, kept out of this header
  std::mutex mutex_;
  std::vector<std::unique_ptr<Transfer>> queued_;
  std::vector<std::uint64_t> cancelled_;
  bool stopping_ = false;
  std::uint64_t nextId_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Transfer>> running_;  // I/O thread only
  std::thread thread_;
};

}  // namespace tether::kube
