// Http1Connection.cpp - the request loop, routing, the exchange with both directions framed, retries and
// the fail-open to stable.
#include "shadow/router/Http1Connection.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>

#include "shadow/router/HeadRewrite.hpp"
#include "shadow/router/RouteTarget.hpp"
#include "shadow/router/SharedRead.hpp"
#include "shadow/router/Splice.hpp"

namespace tether::shadow::router {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kCloseDrainBytes = 1u << 20;

// Methods that may be sent again when a reused connection died before any answer (RFC 9110 §9.2.2).
bool idempotent(std::string_view method) {
  for (const char* safe : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    if (method == safe) return true;
  }
  return false;
}

mesh::HeaderFields fieldsOf(const http1::Headers& headers) {
  mesh::HeaderFields fields;
  fields.reserve(headers.size());
  for (const auto& header : headers) fields.emplace_back(header.name, header.value);
  return fields;
}

std::string reasonFor(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 502:
      return "Bad Gateway";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

std::string chunkOf(std::string_view bytes) {
  char size[24];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  std::string chunk(size, static_cast<std::size_t>(n));
  chunk += bytes;
  chunk += "\r\n";
  return chunk;
}

// GCC 12 destroys class-type temporaries of a conditional expression twice inside a coroutine, so every
// choice between two strings is made in plain functions (RouteTarget.hpp has the endpoint ones).
std::string describeFailure(bool fallback, const std::string& who, const Endpoint& stable,
                            const std::string& detail) {
  if (fallback) return "the stable Service " + stable.key() + detail;
  return who + detail;
}

std::string errorResponse(int status, const std::string& message, bool keepAlive) {
  const std::string body = message + "\n";
  std::string response =
      "HTTP/1.1 " + std::to_string(status) + " " + reasonFor(status) +
      "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n";
  if (!keepAlive) response += "Connection: close\r\n";
  return response + "\r\n" + body;
}

}  // namespace

// What sendBody and relayResponse share while a request's body and its response flow at the same time.
struct Http1Connection::Exchange {
  bool bodyStarted = false;   // some body bytes went upstream (the request cannot be sent again)
  bool bodySent = false;      // the whole body went upstream
  bool responseDone = false;  // the whole response went to the client
  bool headSent = false;      // a response head (interim or final) went to the client
  bool anyResponse = false;   // the upstream answered at least one byte
  bool upgraded = false;      // a 101 went to the client: splice from now on
  bool closeClient = false;   // the client connection cannot carry another request
  bool upstreamReusable = false;
  bool fallback = false;      // stable answers for a lease whose target refused
  std::string badBody;        // the request body's framing was malformed: 400
  std::string upstreamError;  // why the upstream gave no (complete) response
};

Http1Connection::Http1Connection(RouterServices& services, tcp::socket client, std::string sniffed,
                                 Endpoint stable, std::uint16_t port)
    : services_(services),
      client_(std::move(client)),
      in_(std::move(sniffed)),
      stable_(std::move(stable)),
      port_(port),
      deadline_(client_.get_executor()) {
  boost::system::error_code ec;
  const auto remote = client_.remote_endpoint(ec);
  peer_ = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
}

asio::awaitable<void> Http1Connection::run() {
  boost::system::error_code ec;
  client_.set_option(tcp::no_delay(true), ec);
  client_.non_blocking(true, ec);
  deadline_.arm(services_.config.headTimeout);  // the sniffed bytes may hold a head already
  co_await (serve() || deadline_.watch());
  if (deadline_.expired()) spdlog::debug("event=router_connection_timeout peer={}", peer_);
  client_.close(ec);
}

asio::awaitable<void> Http1Connection::serve() {
  After after = After::Next;
  while (after == After::Next) {
    const auto headLength = co_await readHead();
    if (!headLength) {
      after = After::Close;  // the client left, or got its 400/431: closed through the drain below
      break;
    }
    auto parsed = http1::parseRequestHead(std::string_view(in_).substr(0, *headLength));
    in_.erase(0, *headLength);
    if (!parsed.head) {
      after = co_await refuse(http1::statusFor(parsed.error), parsed.reason, false);
      break;
    }
    const auto framing = http1::requestFraming(*parsed.head);
    if (!framing.framing) {
      after = co_await refuse(400, framing.error, false);
      break;
    }
    if (parsed.head->method == "CONNECT") {
      after =
          co_await refuse(405, "the mesh router forwards requests to a Service; it is not a proxy", false);
      break;
    }
    after = co_await forward(*parsed.head, *framing.framing);
    // Between requests an idle connection keeps no buffer (a large body left a large capacity behind).
    if (in_.empty() && in_.capacity() > 4096) std::string().swap(in_);
  }
  if (after == After::Handed) co_return;
  boost::system::error_code ec;
  client_.shutdown(tcp::socket::shutdown_send, ec);
  // Unread bytes at close (the rest of a body answered early) would make the kernel send an RST that can
  // destroy the answer on its way; read them away first, within bounds.
  deadline_.arm(std::chrono::milliseconds(1000));
  std::size_t drained = 0;
  while (drained < kCloseDrainBytes) {
    in_.clear();
    const auto n = co_await readClient();
    if (n == 0) break;
    drained += n;
  }
}

asio::awaitable<std::optional<std::size_t>> Http1Connection::readHead() {
  // Between requests the connection may idle for the keep-alive bound; a head that has started must be
  // whole within the head bound from its first byte, not from each read (a byte every few seconds would
  // otherwise hold the connection for ever).
  bool started = false;
  for (;;) {
    if (const auto end = http1::headEnd(in_); end && *end <= services_.config.maxHeadBytes) co_return end;
    if (in_.size() > services_.config.maxHeadBytes) {
      co_await refuse(
          431, "request head larger than " + std::to_string(services_.config.maxHeadBytes) + " bytes", false);
      co_return std::nullopt;
    }
    if (!in_.empty() && !started) {
      started = true;
      deadline_.arm(services_.config.headTimeout);
    } else if (in_.empty()) {
      deadline_.arm(services_.config.keepAliveIdle);
    }
    const bool partial = !in_.empty();
    if (co_await readClient() == 0) {
      if (partial) co_await refuse(400, "the connection ended inside a request head", false);
      co_return std::nullopt;
    }
  }
}

asio::awaitable<Http1Connection::After> Http1Connection::forward(const http1::RequestHead& head,
                                                                 const http1::BodyFraming& body) {
  const auto routes = services_.table.snapshot();  // this request is routed by one table
  const mesh::Route* route = mesh::routeFor(*routes, fieldsOf(head.headers), port_);
  Endpoint target = targetOf(route, stable_);
  const bool upgrade = asksUpgrade(head);
  const std::string upstreamHead = upstreamRequestHead(head, upgrade);
  const bool bodyless = body.kind == http1::BodyFraming::Kind::None ||
                        (body.kind == http1::BodyFraming::Kind::Length && body.length == 0);
  const bool clientKeepsAlive = http1::keepsAlive(head.versionMinor, head.headers);
  const std::string who = describeTarget(route, stable_);
  bool fallback = false;
  bool retried = false;
  for (;;) {
    std::string error;
    deadline_.arm(services_.config.exchangeIdle);  // not what is left of the head's bound
    auto upstream = co_await services_.pool.acquire(target, retried, error);
    if (!upstream) {
      if (route && !fallback) {
        // Nothing was sent: the user's process is gone or not listening, and stable can still answer.
        spdlog::info("event=router_fallback {} error=\"{}\"", who, error);
        fallback = true;
        target = stable_;
        continue;
      }
      co_return co_await refuse(502, describeFailure(fallback, who, stable_, ": " + error),
                                clientKeepsAlive && bodyless);
    }
    ++upstream->requests;
    Exchange exchange;
    exchange.fallback = fallback;
    deadline_.arm(services_.config.exchangeIdle);
    auto [writeError, written] =
        co_await asio::async_write(upstream->socket, asio::buffer(upstreamHead), kAwait);
    if (!writeError) {
      co_await (sendBody(*upstream, body, exchange) && relayResponse(*upstream, head, exchange));
    } else {
      exchange.upstreamError = writeError.message();
    }
    if (exchange.upgraded) {
      // Bytes the client sent behind its upgrade request (and the upstream behind its 101) belong to the new
      // protocol: the splice writes them first.
      co_await splice(client_, std::move(in_), upstream->socket, std::move(upstream->in), deadline_,
                      services_.config.spliceIdle, services_.scratch);
      co_return After::Handed;
    }
    if (!exchange.anyResponse && exchange.badBody.empty() && !exchange.headSent) {
      // Sent again only when nothing of it can have been acted on: no body byte went (a streamed body is not
      // kept), and either the method is idempotent or the server still waited for a body.
      const bool mayRetry =
          upstream->reused && !retried && !exchange.bodyStarted && (idempotent(head.method) || !bodyless);
      if (mayRetry && !deadline_.expired()) {
        spdlog::debug("event=router_retry peer={} target={} error=\"{}\"", peer_, target.key(),
                      exchange.upstreamError);
        retried = true;
        continue;
      }
      const bool cleanBody = bodyless || exchange.bodySent;
      co_return co_await refuse(
          502, describeFailure(fallback, who, stable_, " gave no answer: " + exchange.upstreamError),
          clientKeepsAlive && cleanBody && !exchange.closeClient);
    }
    if (!exchange.badBody.empty() && !exchange.headSent)
      co_return co_await refuse(400, exchange.badBody, false);
    if (exchange.upstreamReusable && exchange.bodySent) services_.pool.release(std::move(*upstream));
    if (!exchange.bodySent || !exchange.responseDone) exchange.closeClient = true;
    co_return exchange.closeClient ? After::Close : After::Next;
  }
}

asio::awaitable<void> Http1Connection::sendBody(Upstream& upstream, const http1::BodyFraming& body,
                                                Exchange& exchange) {
  if (body.kind == http1::BodyFraming::Kind::None) {
    exchange.bodySent = true;
    co_return;
  }
  http1::BodyScanner scanner(body);
  boost::system::error_code ignored;
  for (;;) {
    if (!in_.empty()) {
      const std::size_t n = scanner.scan(in_);
      if (scanner.failed()) {
        exchange.badBody = "malformed request body: " + scanner.error();
        exchange.closeClient = true;
        upstream.socket.cancel(ignored);  // the upstream waits for a body that will not come
        co_return;
      }
      if (n > 0) {
        exchange.bodyStarted = true;
        auto [ec, written] = co_await asio::async_write(upstream.socket, asio::buffer(in_.data(), n), kAwait);
        if (ec) {
          // The upstream stopped reading (it may have answered already); the client's body is unread.
          exchange.closeClient = true;
          co_return;
        }
        in_.erase(0, n);
        deadline_.arm(services_.config.exchangeIdle);
      }
      if (scanner.done()) {
        exchange.bodySent = true;
        co_return;
      }
    }
    if (exchange.responseDone) {
      exchange.closeClient = true;
      co_return;
    }
    if (co_await readClient() == 0) {
      exchange.closeClient = true;
      if (!exchange.responseDone) upstream.socket.cancel(ignored);
      co_return;
    }
  }
}

asio::awaitable<void> Http1Connection::relayResponse(Upstream& upstream, const http1::RequestHead& head,
                                                     Exchange& exchange) {
  boost::system::error_code ignored;
  for (;;) {
    std::optional<std::size_t> end;
    while (!(end = http1::headEnd(upstream.in))) {
      if (upstream.in.size() > services_.config.maxHeadBytes) {
        exchange.upstreamError =
            "a response head larger than " + std::to_string(services_.config.maxHeadBytes);
        exchange.closeClient = true;
        co_return;
      }
      if (co_await readUpstream(upstream) == 0) {
        exchange.upstreamError =
            deadline_.expired() ? "no answer in time" : "the connection closed before an answer";
        if (!exchange.bodySent) client_.cancel(ignored);
        co_return;
      }
    }
    exchange.anyResponse = true;
    auto parsed = http1::parseResponseHead(std::string_view(upstream.in).substr(0, *end));
    upstream.in.erase(0, *end);
    if (!parsed.head) {
      exchange.upstreamError = "malformed response head: " + parsed.reason;
      exchange.anyResponse = false;  // nothing went to the client: it gets a 502
      exchange.closeClient = true;
      co_return;
    }
    const auto& response = *parsed.head;
    if (response.status == 101) {
      if (!asksUpgrade(head)) {
        exchange.upstreamError = "101 Switching Protocols to a request that did not ask for it";
        exchange.anyResponse = false;
        exchange.closeClient = true;
        co_return;
      }
      ResponseHeadOptions options;
      options.upgrade = true;
      options.fallback = exchange.fallback;
      exchange.headSent = true;
      exchange.upgraded = co_await writeClient(clientResponseHead(response, options));
      co_return;
    }
    if (response.status < 200) {
      // 100 Continue, 103 Early Hints: an HTTP/1.0 client does not expect them.
      if (head.versionMinor >= 1) {
        exchange.headSent = true;
        if (!co_await writeClient(clientResponseHead(response, {}))) {
          exchange.closeClient = true;
          co_return;
        }
      }
      continue;
    }
    const auto framing = http1::responseFraming(response, head.method);
    if (!framing.framing) {
      exchange.upstreamError = "unframed response: " + framing.error;
      exchange.anyResponse = false;
      exchange.closeClient = true;
      co_return;
    }
    const bool untilClose = framing.framing->kind == http1::BodyFraming::Kind::UntilClose;
    const bool chunk = untilClose && head.versionMinor >= 1;
    // A final answer while the request body is still coming (a 417 to `Expect: 100-continue`, a 413): the
    // rest of the body is never read, so the connection cannot carry another request.
    if (!exchange.bodySent) exchange.closeClient = true;
    if (!http1::keepsAlive(head.versionMinor, head.headers) || (untilClose && !chunk))
      exchange.closeClient = true;
    ResponseHeadOptions options;
    options.close = exchange.closeClient;
    options.chunked = chunk;
    options.fallback = exchange.fallback;
    exchange.headSent = true;
    if (!co_await writeClient(clientResponseHead(response, options))) {
      exchange.closeClient = true;
      co_return;
    }
    const bool complete = co_await relayBody(upstream, *framing.framing, chunk);
    if (!complete) {
      // The body was cut short: the client must not take what it got for the whole response.
      exchange.closeClient = true;
      client_.set_option(asio::socket_base::linger(true, 0), ignored);
      client_.close(ignored);
      co_return;
    }
    exchange.responseDone = true;
    exchange.upstreamReusable = !untilClose && http1::keepsAlive(response.versionMinor, response.headers);
    if (!exchange.bodySent) client_.cancel(ignored);  // stop reading a body nobody waits for
    co_return;
  }
}

asio::awaitable<bool> Http1Connection::relayBody(Upstream& upstream, const http1::BodyFraming& framing,
                                                 bool chunk) {
  if (framing.kind == http1::BodyFraming::Kind::None) co_return true;
  http1::BodyScanner scanner(framing);
  for (;;) {
    if (!upstream.in.empty()) {
      const std::size_t n = scanner.scan(upstream.in);
      if (scanner.failed()) {
        spdlog::info("event=router_bad_response_body peer={} error=\"{}\"", peer_, scanner.error());
        co_return false;
      }
      if (n > 0) {
        const std::string_view piece(upstream.in.data(), n);
        bool written = false;
        if (chunk) {
          const std::string framed = chunkOf(piece);
          written = co_await writeClient(framed);
        } else {
          written = co_await writeClient(piece);
        }
        if (!written) co_return false;
        upstream.in.erase(0, n);
      }
      if (scanner.done()) co_return true;
    }
    if (co_await readUpstream(upstream) == 0) {
      if (framing.kind != http1::BodyFraming::Kind::UntilClose || deadline_.expired()) co_return false;
      co_return !chunk || co_await writeClient("0\r\n\r\n");
    }
  }
}

asio::awaitable<Http1Connection::After> Http1Connection::refuse(int status, const std::string& message,
                                                                bool keepAlive) {
  spdlog::info("event=router_refused peer={} status={} reason=\"{}\"", peer_, status, message);
  const std::string response = errorResponse(status, message, keepAlive);
  const bool written = co_await writeClient(response);
  co_return written&& keepAlive ? After::Next : After::Close;
}

asio::awaitable<std::size_t> Http1Connection::readClient() {
  co_return co_await readAvailable(client_, in_, services_.scratch);
}

asio::awaitable<std::size_t> Http1Connection::readUpstream(Upstream& upstream) {
  const auto n = co_await readAvailable(upstream.socket, upstream.in, services_.scratch);
  if (n > 0) deadline_.arm(services_.config.exchangeIdle);
  co_return n;
}

asio::awaitable<bool> Http1Connection::writeClient(std::string_view bytes) {
  auto [ec, n] = co_await asio::async_write(client_, asio::buffer(bytes.data(), bytes.size()), kAwait);
  if (!ec) deadline_.arm(services_.config.exchangeIdle);
  co_return !ec;
}

}  // namespace tether::shadow::router
