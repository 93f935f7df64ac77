// PortForwardDial.cpp - TCP (or HTTP CONNECT), TLS with resumption, and the WebSocket upgrade.
#include "server/kube/PortForwardDial.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdlib>
#include <istream>
#include <map>
#include <mutex>

#include "server/kube/Client.hpp"
#include "server/kube/Credentials.hpp"

namespace tether::kube::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::use_awaitable;

namespace {

// The head of an HTTP proxy's answer to CONNECT; a longer one is refused.
constexpr std::uint32_t kMaxProxyAnswer = 16u * 1024u;

struct Endpoint {
  std::string host;
  std::string port;
  std::string prefix;
};

Endpoint parseUrl(const std::string& url) {
  Endpoint endpoint;
  const auto schemeEnd = url.find("://");
  const auto scheme = schemeEnd == std::string::npos ? std::string("https") : url.substr(0, schemeEnd);
  auto rest = schemeEnd == std::string::npos ? url : url.substr(schemeEnd + 3);
  const auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  endpoint.prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!endpoint.prefix.empty() && endpoint.prefix.back() == '/') endpoint.prefix.pop_back();
  if (const auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    endpoint.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) endpoint.port = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    endpoint.host = authority.substr(0, colon);
    if (colon != std::string::npos) endpoint.port = authority.substr(colon + 1);
  }
  if (endpoint.port.empty()) endpoint.port = scheme == "https" ? "443" : "80";
  return endpoint;
}

// The proxy to use for `host`: proxy-url, else HTTPS_PROXY unless NO_PROXY excludes the host (kubectl's
// rules).
std::string proxyFor(const ClusterConfig& cluster, const std::string& host) {
  if (!cluster.proxyUrl.empty()) return cluster.proxyUrl;
  const char* proxy = std::getenv("HTTPS_PROXY");
  if (proxy == nullptr) proxy = std::getenv("https_proxy");
  if (proxy == nullptr || *proxy == '\0') return {};
  const char* noProxy = std::getenv("NO_PROXY");
  if (noProxy == nullptr) noProxy = std::getenv("no_proxy");
  if (noProxy != nullptr) {
    std::string list(noProxy);
    std::size_t start = 0;
    while (start <= list.size()) {
      auto end = list.find(',', start);
      if (end == std::string::npos) end = list.size();
      auto entry = list.substr(start, end - start);
      while (!entry.empty() && entry.front() == ' ') entry.erase(0, 1);
      while (!entry.empty() && entry.back() == ' ') entry.pop_back();
      if (entry == "*" || entry == host) return {};
      if (!entry.empty() && entry.front() == '.' && host.size() > entry.size() &&
          host.compare(host.size() - entry.size(), entry.size(), entry) == 0) {
        return {};
      }
      if (!entry.empty() && entry.front() != '.' && host.size() > entry.size() + 1 &&
          host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
          host[host.size() - entry.size() - 1] == '.') {
        return {};
      }
      start = end + 1;
    }
  }
  return proxy;
}

bool isIpAddress(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

ssl::context makeTlsContext(const ClusterConfig& cluster, const TlsIdentity& identity) {
  ssl::context context(ssl::context::tls_client);
  context.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                      ssl::context::no_tlsv1_1);
  if (cluster.insecureSkipTlsVerify) {
    context.set_verify_mode(ssl::verify_none);
  } else {
    context.set_verify_mode(ssl::verify_peer);
    if (!cluster.certificateAuthorityData.empty()) {
      context.add_certificate_authority(asio::buffer(cluster.certificateAuthorityData));
    } else if (!cluster.certificateAuthorityFile.empty()) {
      context.load_verify_file(cluster.certificateAuthorityFile);
    } else {
      context.set_default_verify_paths();
    }
  }
  if (!identity.certificatePem.empty()) {
    context.use_certificate_chain(asio::buffer(identity.certificatePem));
    context.use_private_key(asio::buffer(identity.keyPem), ssl::context::pem);
  } else if (!identity.certificateFile.empty()) {
    context.use_certificate_chain_file(identity.certificateFile);
    context.use_private_key_file(identity.keyFile, ssl::context::pem);
  }
  return context;
}

// Every forwarded connection is a new TLS connection to the API server. Building the TLS context (CA and
// client certificate parsing) once per identity, and resuming the last TLS session the server gave us,
// keeps that cost close to a TCP round trip instead of a full handshake each time.
struct TlsCache {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<ssl::context>> contexts;
  std::map<SSL_CTX*, SSL_SESSION*> sessions;  // the newest resumable session per context
};

TlsCache& tlsCache() {
  static TlsCache cache;
  return cache;
}

// OpenSSL calls this when the server issues a session (a TLS 1.3 ticket arrives after the handshake).
int rememberSession(SSL* ssl, SSL_SESSION* session) {
  auto& cache = tlsCache();
  std::lock_guard lock(cache.mutex);
  auto& slot = cache.sessions[SSL_get_SSL_CTX(ssl)];
  if (slot != nullptr) SSL_SESSION_free(slot);
  slot = session;
  return 1;  // we keep the reference
}

std::shared_ptr<ssl::context> tlsContextFor(const ClusterConfig& cluster, const TlsIdentity& identity) {
  const auto key = cluster.server + '\n' + cluster.certificateAuthorityFile + '\n' +
                   std::to_string(std::hash<std::string>{}(cluster.certificateAuthorityData)) + '\n' +
                   (cluster.insecureSkipTlsVerify ? "insecure" : "verify") + '\n' + identity.certificateFile +
                   '\n' + std::to_string(std::hash<std::string>{}(identity.certificatePem));
  auto& cache = tlsCache();
  std::lock_guard lock(cache.mutex);
  auto& context = cache.contexts[key];
  if (!context) {
    context = std::make_shared<ssl::context>(makeTlsContext(cluster, identity));
    SSL_CTX_set_session_cache_mode(context->native_handle(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context->native_handle(), &rememberSession);
  }
  return context;
}

void resumeSession(SSL* ssl) {
  auto& cache = tlsCache();
  std::lock_guard lock(cache.mutex);
  const auto found = cache.sessions.find(SSL_get_SSL_CTX(ssl));
  if (found != cache.sessions.end() && found->second != nullptr) SSL_set_session(ssl, found->second);
}

}  // namespace

asio::awaitable<DialedWebSocket> dialPortForward(Client& client, const DialRequest& dial,
                                                 const PortForwardConfig& config) {
  const auto& cluster = client.config().cluster;
  const auto& what = dial.what;
  if (cluster.server.rfind("https://", 0) != 0) {
    throw PortForwardError(what + ": the API server " + cluster.server +
                           " is not https; port-forward needs TLS");
  }
  const auto server = parseUrl(cluster.server);
  AppliedCredentials credentials;
  try {
    credentials = client.credentials().current();
  } catch (const CredentialError& error) {
    throw PortForwardError(what + ": " + error.what());
  }
  std::shared_ptr<ssl::context> tls;
  try {
    tls = tlsContextFor(cluster, credentials.identity);
  } catch (const boost::system::system_error& error) {
    throw PortForwardError(what +
                           ": the kubeconfig's certificates cannot be used: " + error.code().message());
  }
  auto executor = co_await asio::this_coro::executor;
  DialedWebSocket dialed{tls, std::make_unique<TlsWebSocket>(executor, *tls)};
  auto& ws = *dialed.ws;
  auto& tcp = beast::get_lowest_layer(ws);

  // TCP, to the server or to the proxy.
  const auto proxy = proxyFor(cluster, server.host);
  const auto target = proxy.empty() ? server : parseUrl(proxy);
  if (!proxy.empty() && proxy.rfind("http://", 0) != 0) {
    throw PortForwardError(what + ": proxy " + proxy +
                           " is not supported for port-forward; use an http:// proxy");
  }
  asio::ip::tcp::resolver resolver(executor);
  auto [resolveError, results] =
      co_await resolver.async_resolve(target.host, target.port, asio::as_tuple(use_awaitable));
  if (resolveError)
    throw PortForwardError(what + ": cannot resolve " + target.host + ": " + resolveError.message());
  tcp.expires_after(config.connectTimeout);
  auto [connectError, connected] = co_await tcp.async_connect(results, asio::as_tuple(use_awaitable));
  if (connectError) {
    throw PortForwardError(what + ": cannot reach " +
                           (proxy.empty() ? "the API server " + cluster.server : "the proxy " + proxy) +
                           ": " + connectError.message());
  }
  if (!proxy.empty()) {
    const auto request = "CONNECT " + server.host + ":" + server.port + " HTTP/1.1\r\nHost: " + server.host +
                         ":" + server.port + "\r\n\r\n";
    auto [writeError, written] =
        co_await asio::async_write(tcp, asio::buffer(request), asio::as_tuple(use_awaitable));
    if (writeError) throw PortForwardError(what + ": the proxy " + proxy + " closed the connection");
    // The answer is parsed as HTTP, its head bounded: a proxy that answers "403 ... 200" or never ends its
    // head is refused, not taken for a tunnel.
    beast::flat_buffer buffer(kMaxProxyAnswer);
    http::response_parser<http::empty_body> answer;
    answer.header_limit(kMaxProxyAnswer);
    answer.skip(true);  // a 2xx answer to CONNECT has no body: the tunnel starts right after the head
    auto [readError, read] =
        co_await http::async_read_header(tcp, buffer, answer, asio::as_tuple(use_awaitable));
    if (readError) {
      throw PortForwardError(what + ": the proxy " + proxy + " gave no usable answer to CONNECT: " +
                             (readError == http::error::header_limit
                                  ? "its head is longer than " + std::to_string(kMaxProxyAnswer) + " bytes"
                                  : readError.message()));
    }
    const auto& head = answer.get();
    if (head.result_int() != 200) {
      throw PortForwardError(what + ": the proxy " + proxy + " refused CONNECT: " +
                             std::to_string(head.result_int()) + " " + std::string(head.reason()));
    }
    if (buffer.size() != 0) {
      throw PortForwardError(what + ": the proxy " + proxy + " sent bytes after its answer to CONNECT");
    }
  }

  // TLS, verifying the name the kubeconfig says (tls-server-name, else the server's host).
  auto& tlsStream = ws.next_layer();
  const auto verifyName = cluster.tlsServerName.empty() ? server.host : cluster.tlsServerName;
  if (!isIpAddress(verifyName)) {
    // SNI; OpenSSL's macro hides a C cast, so call what it expands to.
    SSL_ctrl(tlsStream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(verifyName.c_str()));
  }
  if (!cluster.insecureSkipTlsVerify) {
    auto* param = SSL_get0_param(tlsStream.native_handle());
    if (isIpAddress(verifyName)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, verifyName.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, verifyName.c_str(), 0);
    }
  }
  resumeSession(tlsStream.native_handle());
  tcp.expires_after(config.handshakeTimeout);
  auto [tlsError] =
      co_await tlsStream.async_handshake(ssl::stream_base::client, asio::as_tuple(use_awaitable));
  if (tlsError) {
    throw PortForwardError(what + ": TLS handshake with " + cluster.server +
                           " failed: " + tlsError.message() +
                           " (check certificate-authority and tls-server-name in the kubeconfig)");
  }
  tcp.expires_never();
  spdlog::debug("{}: TLS session {}", what,
                SSL_session_reused(tlsStream.native_handle()) ? "resumed" : "new");

  // WebSocket upgrade with the subprotocol and the credentials.
  ws.set_option(websocket::stream_base::timeout{config.handshakeTimeout, config.idleTimeout, true});
  // A client masks what it sends, and Beast masks through its write buffer (4 KiB by default), sending
  // each buffer-full as a frame of its own: a frame, a TLS record and a socket write per 4 KiB of a bulk
  // upload. 64 KiB frames made uploads ~1.5x faster (bench/kube); sending each message as one frame
  // (auto_fragment off) measured slower than that on the shared session.
  ws.write_buffer_bytes(64u * 1024u);
  ws.set_option(websocket::stream_base::decorator([&credentials, &dial](websocket::request_type& upgrade) {
    upgrade.set(beast::http::field::sec_websocket_protocol, dial.subprotocol);
    upgrade.set(beast::http::field::user_agent, "tether/0.1 (port-forward)");
    for (const auto& header : credentials.headers) {
      const auto colon = header.find(':');
      upgrade.set(header.substr(0, colon), header.substr(colon + 2));
    }
  }));
  auto path = server.prefix + "/api/v1/namespaces/" + urlEscape(dial.namespaceName) + "/pods/" +
              urlEscape(dial.pod) + "/portforward";
  if (!dial.query.empty()) path += "?" + dial.query;
  websocket::response_type response;
  auto [upgradeError] = co_await ws.async_handshake(response, server.host + ":" + server.port, path,
                                                    asio::as_tuple(use_awaitable));
  if (upgradeError) {
    std::string detail = upgradeError.message();
    if (response.result_int() != 0 && response.result_int() != 101) {
      detail = "HTTP " + std::to_string(response.result_int());
      const auto body = response.body();
      if (const auto at = body.find("\"message\":\""); at != std::string::npos) {
        detail += ": " + body.substr(at + 11, body.find('"', at + 11) - at - 11);
      }
    }
    if (response.result_int() != 0 && response.result_int() != 101 && response.result_int() != 401 &&
        response.result_int() != 403 && response.result_int() != 404) {
      throw SubprotocolRefused(what + ": the API server refused the upgrade: " + detail);
    }
    throw PortForwardError(what + ": the API server refused the upgrade: " + detail);
  }
  if (dial.requireSubprotocol && response[beast::http::field::sec_websocket_protocol] != dial.subprotocol) {
    throw SubprotocolRefused(what + ": the API server does not speak " + dial.subprotocol);
  }
  co_return dialed;
}

}  // namespace tether::kube::detail
