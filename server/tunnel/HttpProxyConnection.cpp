// HttpProxyConnection.cpp - the request loop, CONNECT, forwarding with both directions framed, and the
// per-connection pool of upstream streams.
#include "server/tunnel/HttpProxyConnection.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "protocol/http1/Body.hpp"
#include "server/tunnel/Splice.hpp"
#include "support/text/Base64.hpp"
#include "support/text/LogText.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using tunnel::Code;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kClientRead = 64u * 1024u;
constexpr std::size_t kUpstreamRead = 256u * 1024u;

// The planned origin-form head in absolute form for the developer's proxy, with its credentials.
std::string absoluteForm(const ProxyPlan& plan, const UpstreamProxy& proxy) {
  std::string head = plan.upstreamHead;
  const auto first = head.find(' ');
  if (first != std::string::npos && first + 1 < head.size() && head[first + 1] == '/') {
    const bool v6 = plan.target.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + plan.target.host + "]" : plan.target.host;
    head.insert(first + 1, "http://" + host + ":" + std::to_string(plan.target.port));
  }
  if (!proxy.credentials.empty()) {
    head.insert(head.size() - 2,
                "Proxy-Authorization: Basic " + support::encodeBase64(proxy.credentials) + "\r\n");
  }
  return head;
}

std::string openError(const Reached& reached) {
  if (reached.code == Code::TransportLost) return reached.message;
  return std::string(tunnel::toString(reached.code)) + ": " + reached.message;
}

int statusForOpen(Code code) {
  return code == Code::Timeout ? 504 : 502;
}

// Methods a proxy may send again when a reused connection died before any answer (RFC 9110 §9.2.2).
bool idempotent(std::string_view method) {
  for (const char* safe : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    if (method == safe) return true;
  }
  return false;
}

}  // namespace

// What sendBody and relayResponse share while a request's body and its response flow at the same time.
struct HttpProxyConnection::Exchange {
  bool bodySent = false;      // the whole request body went upstream
  bool responseDone = false;  // the whole response went to the client
  bool headSent = false;      // a response head (interim or final) went to the client
  bool anyResponse = false;   // the upstream answered at least one byte
  bool upgraded = false;      // a 101 made the connection a tunnel
  bool closeClient = false;   // the client's connection cannot carry another request
  bool resetClient = false;   // ... and ends with an RST, because the response was cut short
  bool upstreamReusable = false;
  bool upstreamTimedOut = false;  // no byte came within the bound (a retry could run the request twice)
  std::string badBody;            // the request body's framing was malformed: 400
  std::string upstreamError;      // why the upstream gave no (complete) response
};

HttpProxyConnection::HttpProxyConnection(TunnelClient& tunnel, const ProxyAuth& auth,
                                         const ProxyConfig& config, tcp::socket& client)
    : tunnel_(tunnel), auth_(auth), config_(config), client_(client), peer_(peerOf(client_)) {}

HttpProxyConnection::~HttpProxyConnection() {
  for (auto& upstream : idle_) drop(upstream, "client connection ended");
}

asio::awaitable<void> HttpProxyConnection::run() {
  boost::system::error_code ec;
  client_.set_option(tcp::no_delay(true), ec);
  After after = After::Next;
  while (after == After::Next) {
    const auto headLength = co_await readHead();
    if (!headLength) {
      after = After::Close;
      break;
    }
    auto parsed = http1::parseRequestHead(std::string_view(in_).substr(0, *headLength));
    in_.erase(0, *headLength);
    if (!parsed.head) {
      after = co_await refuse(http1::statusFor(parsed.error), parsed.reason, false);
      break;
    }
    after = co_await serve(*parsed.head);
  }
  if (after == After::Handed) co_return;
  if (after == After::Reset) {
    client_.set_option(asio::socket_base::linger(true, 0), ec);
    client_.close(ec);
    co_return;
  }
  client_.shutdown(tcp::socket::shutdown_send, ec);
  // Closing with unread bytes from the client (the rest of a body a server answered before reading) would
  // send an RST that can destroy the answer still on its way; read them away first, within bounds.
  const auto drainUntil = std::chrono::steady_clock::now() + config_.closeDrainTimeout;
  std::size_t drained = 0;
  while (drained < config_.closeDrainBytes && std::chrono::steady_clock::now() < drainUntil) {
    in_.clear();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(drainUntil - std::chrono::steady_clock::now());
    const std::size_t n = co_await readClient(std::max(left, std::chrono::milliseconds(1)));
    if (n == 0) break;
    drained += n;
  }
  client_.close(ec);
}

asio::awaitable<std::optional<std::size_t>> HttpProxyConnection::readHead() {
  for (;;) {
    if (auto end = http1::headEnd(in_)) {
      if (*end <= config_.maxHeadBytes) {
        headDeadline_.reset();  // the next head, even one already pipelined behind this, gets its own bound
        co_return end;
      }
    }
    if (in_.size() > config_.maxHeadBytes) {
      co_await refuse(431, "request head larger than " + std::to_string(config_.maxHeadBytes) + " bytes",
                      false);
      co_return std::nullopt;
    }
    // Between requests the connection may idle for the keep-alive bound; a head that has started must be
    // whole within the handshake bound, counted from its first byte (not from each read, or a byte every
    // few seconds would hold the connection for ever).
    const bool started = !in_.empty();
    if (!started) headDeadline_.reset();
    if (started && !headDeadline_)
      headDeadline_ = std::chrono::steady_clock::now() + config_.handshakeTimeout;
    const auto bound = started ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                     *headDeadline_ - std::chrono::steady_clock::now())
                               : config_.keepAliveTimeout;
    const std::size_t before = in_.size();
    if (bound.count() <= 0 || co_await readClient(bound) == 0) {
      if (before > 0) co_await refuse(400, "the connection ended inside a request head", false);
      co_return std::nullopt;
    }
  }
}

asio::awaitable<HttpProxyConnection::After> HttpProxyConnection::serve(const http1::RequestHead& head) {
  const auto* credentials = http1::find(head.headers, "Proxy-Authorization");
  if (auth_.required() && (credentials == nullptr || !auth_.acceptsProxyAuthorization(credentials->value))) {
    auth_.noteRefusal("http", peer_, credentials == nullptr ? "no Proxy-Authorization" : "wrong credentials");
    // A client that sends credentials only when challenged (the JVM's Authenticator) retries on the same
    // connection, which stays open when no body has to be skipped.
    const auto framing = http1::requestFraming(head);
    const bool bodyless = framing.framing && framing.framing->kind == http1::BodyFraming::Kind::None;
    const bool keepAlive =
        bodyless && head.versionMinor >= 1 && http1::keepsAlive(head.versionMinor, head.headers);
    co_return co_await refuse(407,
                              "proxy credentials required: use the proxy URL of the session's launch "
                              "environment, which carries them",
                              keepAlive, "Proxy-Authenticate: Basic realm=\"tether\"\r\n");
  }
  auto planned = planRequest(head);
  if (!planned.plan) co_return co_await refuse(planned.status, planned.error, false);
  if (planned.plan->connect) co_return co_await tunnel(*planned.plan);
  co_return co_await forward(*planned.plan);
}

asio::awaitable<HttpProxyConnection::After> HttpProxyConnection::tunnel(const ProxyPlan& plan) {
  auto reached = co_await reach(tunnel_, config_, plan.target.host, plan.target.port);
  if (!reached.ok()) {
    const int status = reached.code == Code::TransportLost ? 503 : statusForOpen(reached.code);
    const std::string error = openError(reached);
    co_return co_await refuse(status, error, false);
  }
  static constexpr std::string_view established = "HTTP/1.1 200 Connection established\r\n\r\n";
  if (!co_await writeClient(established)) co_return After::Close;  // `reached` releases its stream
  if (reached.outside) co_return co_await joinOutside(std::move(*reached.outside), in_);
  // Bytes the client sent right after its CONNECT (a TLS ClientHello, often) belong to the tunnel.
  auto [conn, id] = reached.takeStream();
  conn->sendNow(id, in_);
  in_.clear();
  co_await conn->pump(id, std::move(client_));
  co_return After::Handed;
}

asio::awaitable<HttpProxyConnection::After> HttpProxyConnection::joinOutside(OutsideConnection outside,
                                                                             std::string first) {
  in_.clear();
  auto [uec, un] = co_await asio::async_write(outside.socket, asio::buffer(first), kAwait);
  if (uec || !co_await writeClient(outside.early)) co_return After::Close;
  co_await splice(std::move(client_), std::move(outside.socket));
  co_return After::Handed;
}

asio::awaitable<HttpProxyConnection::After> HttpProxyConnection::forwardOutside(const ProxyPlan& plan,
                                                                                Via via, bool& tryCluster) {
  OutsideFailure failure = OutsideFailure::None;
  std::string error;
  // Through the developer's proxy, a plain-http request goes to it in absolute form, as their own client
  // would send it: many proxies allow CONNECT to 443 only (Squid's default).
  std::string host = plan.target.host;
  std::uint16_t port = plan.target.port;
  if (via == Via::Upstream) {
    host = config_.policy->upstream->address.host;
    port = config_.policy->upstream->address.port;
  }
  auto outside = co_await dialOutside(host, port, *config_.policy, Via::Direct, config_.outsideDialTimeout,
                                      failure, error);
  if (!outside) {
    if (via == Via::Direct && failure == OutsideFailure::NoSuchName && !isAddressLiteral(plan.target.host)) {
      tryCluster = true;  // `orders.other-ns`: unknown here, perhaps a Service of another namespace
      co_return After::Next;
    }
    spdlog::info("event=outside_dial_failed host=\"{}\" port={} via=\"{}\" reason=\"{}\"",
                 support::logText(plan.target.host), plan.target.port, toString(via),
                 support::logText(error));
    co_return co_await refuse(failure == OutsideFailure::Timeout ? 504 : 502, error, false);
  }
  // Not pooled: the upstream closes after its answer (`Connection: close`), the client's connection with it,
  // and the client's next request comes on a new connection that is routed on its own.
  std::string head = plan.upstreamHead;
  if (via == Via::Upstream) head = absoluteForm(plan, *config_.policy->upstream);
  head.insert(head.size() - 2, "Connection: close\r\n");
  co_return co_await joinOutside(std::move(*outside), head + in_);
}

asio::awaitable<HttpProxyConnection::After> HttpProxyConnection::forward(const ProxyPlan& plan) {
  // No body bytes to send (none framed, or `Content-Length: 0`): such a request can be sent again, and a
  // refusal leaves nothing of it unread on the client connection.
  const bool bodyless = plan.body.kind == http1::BodyFraming::Kind::None ||
                        (plan.body.kind == http1::BodyFraming::Kind::Length && plan.body.length == 0);
  if (const auto via = routeOf(config_, plan.target.host); via != Via::Tunnel) {
    bool tryCluster = false;
    const auto after = co_await forwardOutside(plan, via, tryCluster);
    if (!tryCluster) co_return after;
  }
  for (int attempt = 0;; ++attempt) {
    int status = 0;
    std::string error;
    auto upstream = co_await acquire(plan.target, attempt > 0, status, error);
    if (!upstream) co_return co_await refuse(status, error, plan.clientKeepsAlive && bodyless);
    spdlog::debug("event=http_proxy_request peer={} method={} target=\"{}\" stream={} reused={}", peer_,
                  plan.method, support::logText(plan.target.key()), upstream->id, upstream->reused);
    Exchange exchange;
    const auto sent = co_await upstream->conn->writeAll(upstream->id, plan.upstreamHead);
    if (sent.code == Code::Ok) {
      co_await (sendBody(*upstream, plan, exchange) && relayResponse(*upstream, plan, exchange));
    } else {
      exchange.upstreamError = std::string(tunnel::toString(sent.code)) + ": " + sent.message;
    }
    if (exchange.upgraded) {
      // The request had no body to wait for; whatever the client sent after its head is the new protocol's.
      upstream->conn->sendNow(upstream->id, in_);
      in_.clear();
      co_await upstream->conn->pump(upstream->id, std::move(client_));
      co_return After::Handed;
    }
    if (!exchange.headSent && exchange.badBody.empty()) {
      drop(*upstream, "no response");
      // A kept-alive upstream may have been closed by its server just before we reused it: an idempotent
      // request without a body that got not a byte back (and did not time out, so the server did not run
      // it slowly) is sent once more on a new stream, as browsers and proxies do.
      if (upstream->reused && bodyless && attempt == 0 && !exchange.anyResponse &&
          !exchange.upstreamTimedOut && idempotent(plan.method)) {
        continue;
      }
      co_return co_await refuse(502, "no response from " + plan.target.key() + ": " + exchange.upstreamError,
                                plan.clientKeepsAlive && exchange.bodySent && !exchange.anyResponse);
    }
    if (!exchange.badBody.empty()) {
      drop(*upstream, "bad request body");
      if (!exchange.headSent) co_return co_await refuse(400, exchange.badBody, false);
      co_return After::Reset;
    }
    if (exchange.upstreamReusable && exchange.bodySent && exchange.responseDone) {
      keep(std::move(*upstream));
    } else {
      drop(*upstream, "not reusable");
    }
    if (exchange.resetClient) co_return After::Reset;
    if (exchange.closeClient || !exchange.responseDone || !exchange.bodySent) co_return After::Close;
    co_return After::Next;
  }
}

asio::awaitable<void> HttpProxyConnection::sendBody(Upstream& upstream, const ProxyPlan& plan,
                                                    Exchange& exchange) {
  http1::BodyScanner scanner(plan.body);
  while (!scanner.done()) {
    if (in_.empty()) {
      if (exchange.responseDone) co_return;
      if (co_await readClient(config_.clientIdleTimeout) == 0) {
        // The client ended (or the response ended first and stopped this read): the upstream must not take
        // a cut body for a whole one.
        if (!exchange.responseDone)
          upstream.conn->reset(upstream.id, Code::Cancelled, "the client ended the request");
        co_return;
      }
      continue;
    }
    const std::size_t used = scanner.scan(in_);
    if (scanner.failed()) {
      exchange.badBody = "malformed request body: " + scanner.error();
      upstream.conn->reset(upstream.id, Code::Cancelled, exchange.badBody);
      co_return;
    }
    if (used == 0) continue;
    const auto sent = co_await upstream.conn->writeAll(upstream.id, std::string_view(in_).substr(0, used));
    in_.erase(0, used);
    if (sent.code != Code::Ok) co_return;  // relayResponse sees the same end of the stream
  }
  exchange.bodySent = true;
}

asio::awaitable<void> HttpProxyConnection::relayResponse(Upstream& upstream, const ProxyPlan& plan,
                                                         Exchange& exchange) {
  auto& conn = *upstream.conn;
  std::string buffer;
  // Stops the request body, if it is still flowing, once the response is over: a server may answer before
  // it read the whole body (413, 401), and the client's connection then cannot be used again.
  auto finish = [&] {
    exchange.responseDone = true;
    if (!exchange.bodySent) {
      exchange.closeClient = true;
      conn.reset(upstream.id, Code::Cancelled, "the response ended before the request body");
      boost::system::error_code ec;
      client_.cancel(ec);
    }
  };
  for (;;) {
    // One head: interim 1xx heads are passed on and followed by another.
    std::optional<std::size_t> end;
    while (!(end = http1::headEnd(buffer))) {
      if (buffer.size() > config_.maxHeadBytes) {
        exchange.upstreamError = "response head too large";
        break;
      }
      auto got = co_await conn.readSome(upstream.id, buffer, kUpstreamRead);
      if (got.appended > 0) {
        exchange.anyResponse = true;
        continue;
      }
      exchange.upstreamTimedOut = got.failed && got.failed->code == Code::Timeout;
      exchange.upstreamError =
          got.failed ? std::string(tunnel::toString(got.failed->code)) + ": " + got.failed->message
                     : "the server closed the connection";
      break;
    }
    if (!end) {
      if (exchange.headSent) exchange.resetClient = true;  // a 100 Continue went out, then nothing
      finish();
      co_return;
    }
    auto parsed = http1::parseResponseHead(std::string_view(buffer).substr(0, *end));
    std::optional<http1::FramingResult> framing;
    if (parsed.head) framing = http1::responseFraming(*parsed.head, plan.method);
    if (!parsed.head || !framing->framing || (parsed.head->status == 101 && !plan.upgrade)) {
      const std::string why = !parsed.head                 ? "malformed response head: " + parsed.reason
                              : parsed.head->status == 101 ? "the server switched protocols unasked"
                                                           : "response framing: " + framing->error;
      spdlog::info("event=http_proxy_bad_response peer={} target=\"{}\" reason=\"{}\"", peer_,
                   support::logText(plan.target.key()), support::logText(why));
      conn.reset(upstream.id, Code::ProtocolError, why);
      if (!exchange.headSent) {
        exchange.headSent = co_await writeClient(proxyAnswer(502, plan.target.key() + ": " + why));
        exchange.closeClient = true;
      } else {
        exchange.resetClient = true;
      }
      finish();
      co_return;
    }
    const auto& head = *parsed.head;
    buffer.erase(0, *end);
    if (head.status == 101) {
      exchange.headSent = co_await writeClient(clientResponseHead(head, false));
      exchange.upgraded = exchange.headSent && (buffer.empty() || co_await writeClient(buffer));
      // Once the client saw a 101 its bytes are the new protocol's: never read them as HTTP.
      exchange.resetClient = exchange.headSent && !exchange.upgraded;
      exchange.responseDone = true;
      co_return;
    }
    if (head.status < 200) {
      if (!co_await writeClient(clientResponseHead(head, false))) {
        exchange.closeClient = true;
        finish();
        co_return;
      }
      exchange.headSent = true;
      continue;
    }
    const auto body = *framing->framing;
    const bool untilClose = body.kind == http1::BodyFraming::Kind::UntilClose;
    exchange.closeClient = exchange.closeClient || !plan.clientKeepsAlive || untilClose;
    exchange.upstreamReusable = !untilClose && http1::keepsAlive(head.versionMinor, head.headers);
    if (!co_await writeClient(clientResponseHead(head, exchange.closeClient))) {
      exchange.closeClient = true;
      conn.reset(upstream.id, Code::Cancelled, "the client went away");
      finish();
      co_return;
    }
    exchange.headSent = true;
    http1::BodyScanner scanner(body);
    for (;;) {
      const std::size_t used = scanner.scan(buffer);
      if (used > 0 && !co_await writeClient(std::string_view(buffer).substr(0, used))) {
        exchange.closeClient = true;
        conn.reset(upstream.id, Code::Cancelled, "the client went away");
        break;
      }
      buffer.erase(0, used);
      if (scanner.done()) {
        // Bytes past the response on an idle connection mean the server and we disagree on framing.
        if (!buffer.empty()) exchange.upstreamReusable = false;
        break;
      }
      if (scanner.failed()) {
        spdlog::info("event=http_proxy_bad_response peer={} target=\"{}\" reason=\"{}\"", peer_,
                     support::logText(plan.target.key()), support::logText(scanner.error()));
        conn.reset(upstream.id, Code::ProtocolError, scanner.error());
        exchange.resetClient = true;
        break;
      }
      auto got = co_await conn.readSome(upstream.id, buffer, kUpstreamRead);
      if (got.appended > 0) continue;
      if (got.finished && untilClose) break;  // the end of the connection is the end of this body
      // Cut short: the client must not take a partial body for a whole one.
      exchange.resetClient = true;
      break;
    }
    finish();
    co_return;
  }
}

asio::awaitable<std::optional<HttpProxyConnection::Upstream>> HttpProxyConnection::acquire(
    const ProxyTarget& target, bool fresh, int& status, std::string& error) {
  auto conn = tunnel_.current();
  if (!conn) {
    status = 503;
    error = "the tunnel to the cluster is not connected";
    co_return std::nullopt;
  }
  const auto key = target.key();
  std::optional<Upstream> found;
  for (auto it = idle_.begin(); it != idle_.end();) {
    const bool usable = it->conn == conn && it->conn->idleAndOpen(it->id);
    if (!usable) {
      drop(*it, "stale");
      it = idle_.erase(it);
    } else if (!fresh && !found && it->key == key) {
      found = std::move(*it);
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  if (found) {
    found->reused = true;
    co_return found;
  }
  // A named target: GCC 12 mis-destroys brace-initialised temporaries that live across a co_await.
  const tunnel::Open open{tunnel::OpenKind::Dial, target.port, target.host};
  auto [opened, id] = co_await conn->open(open);
  if (opened.code != Code::Ok) {
    spdlog::info("event=http_proxy_open_failed host=\"{}\" port={} code=\"{}\" reason=\"{}\"",
                 support::logText(target.host), target.port, tunnel::toString(opened.code),
                 support::logText(opened.message));
    status = statusForOpen(opened.code);
    error = std::string(tunnel::toString(opened.code)) + ": " + opened.message;
    co_return std::nullopt;
  }
  co_return Upstream{conn, id, key, false};
}

void HttpProxyConnection::keep(Upstream upstream) {
  idle_.push_back(std::move(upstream));
  if (idle_.size() > config_.maxIdleUpstreams) {
    drop(idle_.front(), "idle pool full");
    idle_.erase(idle_.begin());
  }
}

void HttpProxyConnection::drop(Upstream& upstream, std::string_view why) {
  if (!upstream.conn) return;
  spdlog::trace("event=http_proxy_upstream_closed stream={} target=\"{}\" reason=\"{}\"", upstream.id,
                support::logText(upstream.key), support::logText(why));
  upstream.conn->release(upstream.id);
  upstream.conn.reset();
}

asio::awaitable<std::size_t> HttpProxyConnection::readClient(std::chrono::milliseconds bound) {
  const std::size_t before = in_.size();
  in_.resize(before + kClientRead);
  asio::steady_timer deadline(client_.get_executor(), bound);
  auto got = co_await (client_.async_read_some(asio::buffer(in_.data() + before, kClientRead), kAwait) ||
                       deadline.async_wait(kAwait));
  std::size_t n = 0;
  if (got.index() == 0) {
    auto [ec, count] = std::get<0>(got);
    if (!ec) n = count;
  }
  in_.resize(before + n);
  co_return n;
}

asio::awaitable<bool> HttpProxyConnection::writeClient(std::string_view bytes) {
  asio::steady_timer deadline(client_.get_executor(), config_.clientIdleTimeout);
  auto done = co_await (asio::async_write(client_, asio::buffer(bytes.data(), bytes.size()), kAwait) ||
                        deadline.async_wait(kAwait));
  co_return done.index() == 0 && !std::get<0>(std::get<0>(done));
}

asio::awaitable<HttpProxyConnection::After> HttpProxyConnection::refuse(int status,
                                                                        const std::string& message,
                                                                        bool keepAlive,
                                                                        const std::string& extraFields) {
  spdlog::debug("event=http_proxy_answered peer={} status={} reason=\"{}\"", peer_, status,
                support::logText(message));
  const bool written = co_await writeClient(proxyAnswer(status, message, keepAlive, extraFields));
  co_return written&& keepAlive ? After::Next : After::Close;
}

}  // namespace tether::tunnelclient
