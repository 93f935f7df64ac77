// Http2Connection.cpp - per-stream routing between one downstream nghttp2 server session and upstream
// client sessions (one per target, replaced after GOAWAY or when full). nghttp2 calls back into C functions
// here, which hand each event to the connection; everything runs on the router's one thread.
#include "shadow/router/Http2Connection.hpp"

#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "shadow/router/Deadline.hpp"
#include "shadow/router/HeadRewrite.hpp"
#include "shadow/router/RouteTarget.hpp"

namespace tether::shadow::router {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using Fields = std::vector<std::pair<std::string, std::string>>;

struct Http2Connection::Stream {
  std::int32_t id = 0;  // on the downstream session
  Fields headers, requestTrailers, responseHeaders, responseTrailers;
  std::string requestBody;   // received from the client, not yet handed upstream
  std::string responseBody;  // received from upstream, not yet handed to the client
  bool requestEnded = false;
  bool responseStarted = false;
  bool responseEnded = false;
  bool downClosed = false;
  bool upClosed = false;
  bool lease = false;                 // routed to a lease's target (a refusal there may fall back to stable)
  bool fallback = false;              // stable answers for a lease whose target refused
  bool retried = false;               // sent again after a REFUSED_STREAM
  std::size_t bodyBytesUpstream = 0;  // request body bytes handed to an upstream session
  std::size_t headerBytes = 0, headerFields = 0;  // received so far, both ways (withinHeaderLimit)
  Endpoint target;                                // where it was last sent
  std::string who;                                // the lease (or stable), for messages
  std::weak_ptr<Upstream> upstream;
  std::int32_t upstreamId = -1;
};

struct Http2Connection::Upstream {
  Http2Connection* owner = nullptr;
  Endpoint target;
  std::unique_ptr<Http2Io> io;  // null while connecting
  bool goaway = false;
  bool failed = false;
  std::vector<std::shared_ptr<Stream>> waiting;  // submitted once connected
  std::map<std::int32_t, std::shared_ptr<Stream>> streams;
};

namespace {

constexpr std::uint32_t kMaxConcurrentStreams = 1000;

Http2Connection& connectionOf(void* user) {
  return *static_cast<Http2Connection*>(user);
}

Http2Connection::Upstream& upstreamOf(void* user) {
  return *static_cast<Http2Connection::Upstream*>(user);
}

std::vector<nghttp2_nv> nvs(const Fields& fields) {
  std::vector<nghttp2_nv> out;
  out.reserve(fields.size());
  for (const auto& [name, value] : fields) {
    // nghttp2 does not write through these pointers (NGHTTP2_NV_FLAG_NONE copies them into its frame).
    out.push_back(nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                             reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                             value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return out;
}

std::string lowered(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Moves up to `length` bytes of `body` into `buffer`; when the body is drained and ended, ends the stream,
// with trailers when there are any (the read callback may submit them itself, nghttp2_submit_trailer says).
ssize_t drain(std::string& body, bool ended, const Fields& trailers, nghttp2_session* session,
              std::int32_t id, std::uint8_t* buffer, std::size_t length, std::uint32_t* flags) {
  const std::size_t n = std::min(length, body.size());
  std::memcpy(buffer, body.data(), n);
  body.erase(0, n);
  if (body.empty() && ended) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!trailers.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const auto nv = nvs(trailers);
      nghttp2_submit_trailer(session, id, nv.data(), nv.size());
    }
    return static_cast<ssize_t>(n);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;
  return static_cast<ssize_t>(n);
}

// --- the downstream (server) session's callbacks ---

int downBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    connectionOf(user).streamCreated(frame->hd.stream_id);
  return 0;
}

// Headers and trailers a stream may carry, both ways: nghttp2 1.52 bounds neither the CONTINUATION frames
// of one header block nor the size of the list, so the router does; past it the stream is reset.
constexpr std::size_t kMaxHeaderBytes = 64u * 1024u;
constexpr std::size_t kMaxHeaderFields = 256;

bool withinHeaderLimit(Http2Connection::Stream& stream, std::size_t bytes) {
  stream.headerBytes += bytes + 32;  // RFC 9113 §6.5.2 counts 32 octets of overhead per field
  ++stream.headerFields;
  return stream.headerBytes <= kMaxHeaderBytes && stream.headerFields <= kMaxHeaderFields;
}

int downHeader(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t nameLength,
               const std::uint8_t* value, std::size_t valueLength, std::uint8_t, void* user) {
  auto* stream = connectionOf(user).stream(frame->hd.stream_id);
  if (stream == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (!withinHeaderLimit(*stream, nameLength + valueLength)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  auto& list = frame->headers.cat == NGHTTP2_HCAT_REQUEST ? stream->headers : stream->requestTrailers;
  list.emplace_back(lowered(name, nameLength),
                    std::string(reinterpret_cast<const char*>(value), valueLength));
  return 0;
}

int downFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto& connection = connectionOf(user);
  connection.frameArrived();
  auto* stream = connection.stream(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    stream->requestEnded = ends;
    connection.onRequestHeaders(*stream);
  } else if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && ends) {
    stream->requestEnded = true;
    connection.requestDataArrived(*stream);
  }
  return 0;
}

int downData(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t length,
             void* user) {
  auto& connection = connectionOf(user);
  // The connection's window comes back at once, so one stream whose bytes wait (a paused debuggee, a slow
  // reader) never holds back the others; the stream's own window comes back only when its bytes are handed
  // on (requestBytesSent), which bounds what the router holds per stream.
  nghttp2_session_consume_connection(connection.downstream().session(), length);
  if (auto* stream = connection.stream(id)) {
    stream->requestBody.append(reinterpret_cast<const char*>(data), length);
    connection.requestDataArrived(*stream);
  }
  return 0;
}

int downClose(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
  connectionOf(user).onStreamClosedDownstream(id, code);
  return 0;
}

ssize_t downRead(nghttp2_session* session, std::int32_t id, std::uint8_t* buffer, std::size_t length,
                 std::uint32_t* flags, nghttp2_data_source*, void* user) {
  auto& connection = connectionOf(user);
  auto* stream = connection.stream(id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const auto before = stream->responseBody.size();
  const auto n = drain(stream->responseBody, stream->responseEnded, stream->responseTrailers, session, id,
                       buffer, length, flags);
  connection.responseBytesSent(*stream, before - stream->responseBody.size());
  return n;
}

// --- the upstream (client) sessions' callbacks ---

int upHeader(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t nameLength,
             const std::uint8_t* value, std::size_t valueLength, std::uint8_t, void* user) {
  auto& upstream = upstreamOf(user);
  const auto found = upstream.streams.find(frame->hd.stream_id);
  if (found == upstream.streams.end() || frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (!withinHeaderLimit(*found->second, nameLength + valueLength))
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  auto& list = frame->headers.cat == NGHTTP2_HCAT_HEADERS && found->second->responseStarted
                   ? found->second->responseTrailers
                   : found->second->responseHeaders;
  list.emplace_back(lowered(name, nameLength),
                    std::string(reinterpret_cast<const char*>(value), valueLength));
  return 0;
}

int upFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto& upstream = upstreamOf(user);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    upstream.goaway = true;  // streams in flight finish; new ones get a new connection
    return 0;
  }
  const auto found = upstream.streams.find(frame->hd.stream_id);
  if (found == upstream.streams.end()) return 0;
  auto& stream = *found->second;
  const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && !stream.responseStarted) {
    const auto status = std::find_if(stream.responseHeaders.begin(), stream.responseHeaders.end(),
                                     [](const auto& field) { return field.first == ":status"; });
    if (status != stream.responseHeaders.end() && !status->second.empty() && status->second[0] == '1') {
      stream.responseHeaders.clear();  // 1xx: informational, not passed on
      return 0;
    }
    upstream.owner->onUpstreamResponse(upstream, stream, ends);
  } else if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && ends) {
    stream.responseEnded = true;
    upstream.owner->responseDataArrived(stream);
  }
  return 0;
}

int upData(nghttp2_session* session, std::uint8_t, std::int32_t id, const std::uint8_t* data,
           std::size_t length, void* user) {
  auto& upstream = upstreamOf(user);
  nghttp2_session_consume_connection(session, length);  // as in downData
  const auto found = upstream.streams.find(id);
  if (found == upstream.streams.end() || found->second->downClosed) return 0;
  found->second->responseBody.append(reinterpret_cast<const char*>(data), length);
  upstream.owner->responseDataArrived(*found->second);
  return 0;
}

int upClose(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
  auto& upstream = upstreamOf(user);
  upstream.owner->onStreamClosedUpstream(upstream, id, code);
  return 0;
}

ssize_t upRead(nghttp2_session* session, std::int32_t id, std::uint8_t* buffer, std::size_t length,
               std::uint32_t* flags, nghttp2_data_source*, void* user) {
  auto& upstream = upstreamOf(user);
  const auto found = upstream.streams.find(id);
  if (found == upstream.streams.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  auto& stream = *found->second;
  const auto before = stream.requestBody.size();
  const auto n = drain(stream.requestBody, stream.requestEnded, stream.requestTrailers, session, id, buffer,
                       length, flags);
  upstream.owner->requestBytesSent(stream, before - stream.requestBody.size());
  return n;
}

struct Callbacks {
  nghttp2_session_callbacks* down = nullptr;
  nghttp2_session_callbacks* up = nullptr;
  nghttp2_option* option = nullptr;
  Callbacks() {
    nghttp2_session_callbacks_new(&down);
    nghttp2_session_callbacks_set_on_begin_headers_callback(down, downBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(down, downHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(down, downFrame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(down, downData);
    nghttp2_session_callbacks_set_on_stream_close_callback(down, downClose);
    nghttp2_session_callbacks_new(&up);
    nghttp2_session_callbacks_set_on_header_callback(up, upHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(up, upFrame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(up, upData);
    nghttp2_session_callbacks_set_on_stream_close_callback(up, upClose);
    // End-to-end flow control: a window is given back only once its bytes reached the other side.
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, 1);
  }
  ~Callbacks() {
    nghttp2_session_callbacks_del(down);
    nghttp2_session_callbacks_del(up);
    nghttp2_option_del(option);
  }
};

const Callbacks& callbacks() {
  static const Callbacks instance;
  return instance;
}

}  // namespace

Http2Connection::Http2Connection(RouterServices& services, tcp::socket client, std::string preface,
                                 Endpoint stable, std::uint16_t port)
    : services_(services), stable_(std::move(stable)), port_(port), preface_(std::move(preface)) {
  boost::system::error_code ec;
  const auto remote = client.remote_endpoint(ec);
  peer_ = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
  nghttp2_session* session = nullptr;
  nghttp2_session_server_new2(&session, callbacks().down, this, callbacks().option);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(kMaxHeaderBytes)}};
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 2);
  down_ = std::make_unique<Http2Io>(std::move(client), session, services_.scratch);
  deadline_ = std::make_unique<Deadline>(down_->socket().get_executor());
}

Http2Connection::~Http2Connection() = default;

asio::awaitable<void> Http2Connection::run() {
  auto self = shared_from_this();  // upstream coroutines hold it too; the last one out frees it
  deadline_->arm(services_.config.spliceIdle);
  co_await ((down_->readLoop(std::move(preface_)) && down_->writeLoop()) || deadline_->watch());
  if (!down_->failure().empty())
    spdlog::info("event=router_h2_protocol_error peer={} error=\"{}\"", peer_, down_->failure());
  down_->close();
  for (auto& [key, upstream] : upstreams_) {
    if (upstream->io) upstream->io->close();
  }
  upstreams_.clear();
  streams_.clear();
}

void Http2Connection::frameArrived() {
  deadline_->arm(services_.config.spliceIdle);
}

void Http2Connection::streamCreated(std::int32_t id) {
  auto stream = std::make_shared<Stream>();
  stream->id = id;
  streams_[id] = std::move(stream);
}

Http2Connection::Stream* Http2Connection::stream(std::int32_t id) {
  const auto found = streams_.find(id);
  return found == streams_.end() ? nullptr : found->second.get();
}

void Http2Connection::onRequestHeaders(Stream& stream) {
  const auto routes = services_.table.snapshot();  // this stream is routed by one table
  const mesh::Route* route = mesh::routeFor(*routes, stream.headers, port_);
  stream.lease = route != nullptr;
  stream.who = describeTarget(route, stable_);
  sendUpstream(streams_.at(stream.id), targetOf(route, stable_));
}

void Http2Connection::sendUpstream(const std::shared_ptr<Stream>& stream, const Endpoint& target) {
  stream->target = target;
  const auto key = target.key();
  auto& slot = upstreams_[key];
  const bool usable =
      slot && !slot->goaway && !slot->failed &&
      (!slot->io || nghttp2_session_get_remote_settings(
                        slot->io->session(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) > slot->streams.size());
  if (!usable) {
    // A new connection; the old one (after GOAWAY, or full) finishes its streams on its own coroutine.
    slot = std::make_shared<Upstream>();
    slot->owner = this;
    slot->target = target;
    tunnel::spawnLogged(down_->socket().get_executor(), connectUpstream(slot), "router h2 upstream");
  }
  if (!slot->io) {
    slot->waiting.push_back(stream);
    return;
  }
  submitRequest(slot, stream);
}

asio::awaitable<void> Http2Connection::connectUpstream(std::shared_ptr<Upstream> upstream) {
  auto self = shared_from_this();
  std::string error;
  auto connected = co_await services_.pool.acquire(upstream->target, true, error);
  if (down_->closed()) co_return;
  if (!connected) {
    upstreamFailed(*upstream, error, /*refused=*/true);
    co_return;
  }
  nghttp2_session* session = nullptr;
  nghttp2_session_client_new2(&session, callbacks().up, upstream.get(), callbacks().option);
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1);
  upstream->io = std::make_unique<Http2Io>(std::move(connected->socket), session, services_.scratch);
  auto waiting = std::move(upstream->waiting);
  for (const auto& stream : waiting) submitRequest(upstream, stream);
  co_await (upstream->io->readLoop("") && upstream->io->writeLoop());
  // The connection ended: streams without an answer get one, the rest are reset.
  if (!upstream->streams.empty())
    upstreamFailed(*upstream,
                   upstream->io->failure().empty() ? "the connection closed" : upstream->io->failure(),
                   false);
  const auto slot = upstreams_.find(upstream->target.key());
  if (slot != upstreams_.end() && slot->second == upstream) upstreams_.erase(slot);
}

void Http2Connection::submitRequest(const std::shared_ptr<Upstream>& upstream,
                                    const std::shared_ptr<Stream>& stream) {
  if (stream->downClosed) return;
  const auto nv = nvs(stream->headers);
  nghttp2_data_provider provider{};
  provider.read_callback = upRead;
  const bool body = !stream->requestEnded || !stream->requestBody.empty() || !stream->requestTrailers.empty();
  const auto id = nghttp2_submit_request(upstream->io->session(), nullptr, nv.data(), nv.size(),
                                         body ? &provider : nullptr, nullptr);
  if (id < 0) {
    answerError(*stream, 502, stream->who + ": " + nghttp2_strerror(id));
    return;
  }
  stream->upstream = upstream;
  stream->upstreamId = id;
  upstream->streams[id] = stream;
  upstream->io->wantWrite();
}

void Http2Connection::upstreamFailed(Upstream& upstream, const std::string& why, bool refused) {
  upstream.failed = true;
  auto affected = std::move(upstream.waiting);
  for (auto& [id, stream] : upstream.streams) affected.push_back(stream);
  upstream.streams.clear();
  for (const auto& stream : affected) {
    if (stream->downClosed) continue;
    if (refused && stream->lease && !stream->fallback) {
      // Nothing was sent: the user's process is gone or not listening, and stable can still answer.
      spdlog::info("event=router_fallback {} error=\"{}\"", stream->who, why);
      stream->fallback = true;
      sendUpstream(stream, stable_);
      continue;
    }
    if (!stream->responseStarted) {
      answerError(*stream, 502,
                  (stream->fallback ? "the stable Service " + stable_.key() : stream->who) + ": " + why);
    } else {
      nghttp2_submit_rst_stream(down_->session(), NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_INTERNAL_ERROR);
    }
  }
  down_->wantWrite();
}

void Http2Connection::onUpstreamResponse(Upstream&, Stream& stream, bool endStream) {
  if (stream.downClosed) return;
  stream.responseStarted = true;
  stream.responseEnded = endStream;
  if (stream.fallback) stream.responseHeaders.emplace_back(kRouteHeader, "fallback");
  const auto nv = nvs(stream.responseHeaders);
  nghttp2_data_provider provider{};
  provider.read_callback = downRead;
  // A response that ends with its headers (gRPC's trailers-only answers) stays one HEADERS frame.
  nghttp2_submit_response(down_->session(), stream.id, nv.data(), nv.size(), endStream ? nullptr : &provider);
  down_->wantWrite();
}

void Http2Connection::requestDataArrived(Stream& stream) {
  auto upstream = stream.upstream.lock();
  if (!upstream || !upstream->io || stream.upstreamId < 0) return;  // sent once the upstream is connected
  nghttp2_session_resume_data(upstream->io->session(), stream.upstreamId);
  upstream->io->wantWrite();
}

void Http2Connection::responseDataArrived(Stream& stream) {
  if (stream.downClosed || !stream.responseStarted) return;
  nghttp2_session_resume_data(down_->session(), stream.id);
  down_->wantWrite();
}

void Http2Connection::requestBytesSent(Stream& stream, std::size_t bytes) {
  stream.bodyBytesUpstream += bytes;
  giveBack(down_.get(), stream.id, !stream.downClosed, bytes);  // the client may send that much more
}

void Http2Connection::responseBytesSent(Stream& stream, std::size_t bytes) {
  auto upstream = stream.upstream.lock();
  if (upstream) giveBack(upstream->io.get(), stream.upstreamId, !stream.upClosed, bytes);
}

// The stream's window for bytes handed on (the connection's came back on arrival, in downData/upData); a
// closed stream has no window left to give back.
void Http2Connection::giveBack(Http2Io* io, std::int32_t id, bool streamOpen, std::size_t bytes) {
  if (io == nullptr || bytes == 0 || io->closed() || !streamOpen) return;
  nghttp2_session_consume_stream(io->session(), id, bytes);
  io->wantWrite();
}

void Http2Connection::onStreamClosedDownstream(std::int32_t id, std::uint32_t code) {
  const auto found = streams_.find(id);
  if (found == streams_.end()) return;
  auto stream = found->second;
  streams_.erase(found);
  stream->downClosed = true;
  auto upstream = stream->upstream.lock();
  stream->requestBody.clear();  // never forwarded now; the connection windows came back on arrival
  stream->responseBody.clear();
  if (upstream && upstream->io && stream->upstreamId > 0 && !stream->upClosed) {
    // The client reset it (or the response ended before the request did): the upstream stops as well.
    nghttp2_submit_rst_stream(upstream->io->session(), NGHTTP2_FLAG_NONE, stream->upstreamId,
                              code == NGHTTP2_NO_ERROR ? std::uint32_t{NGHTTP2_CANCEL} : code);
    upstream->io->wantWrite();
  }
}

void Http2Connection::onStreamClosedUpstream(Upstream& upstream, std::int32_t id, std::uint32_t code) {
  const auto found = upstream.streams.find(id);
  if (found == upstream.streams.end()) return;
  auto stream = found->second;
  upstream.streams.erase(found);
  stream->upClosed = true;
  if (stream->downClosed || code == NGHTTP2_NO_ERROR) return;
  if (!stream->responseStarted && code == NGHTTP2_REFUSED_STREAM && stream->bodyBytesUpstream == 0) {
    // Refused before any processing (RFC 9113 §8.7: a GOAWAY's later streams, a full server): safe to send
    // again, once on a new connection to the same target, then (a lease's) to stable.
    if (!stream->retried) {
      stream->retried = true;
      upstream.goaway = true;  // this connection takes no new streams: the retry gets a fresh one
      sendUpstream(stream, stream->target);
      return;
    }
    if (stream->lease && !stream->fallback) {
      stream->fallback = true;
      sendUpstream(stream, stable_);
      return;
    }
  }
  stream->requestBody.clear();  // a body the upstream will not read
  nghttp2_submit_rst_stream(down_->session(), NGHTTP2_FLAG_NONE, stream->id, code);
  down_->wantWrite();
}

void Http2Connection::answerError(Stream& stream, int status, const std::string& message) {
  if (stream.downClosed) return;
  if (stream.responseStarted) {
    nghttp2_submit_rst_stream(down_->session(), NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_INTERNAL_ERROR);
    down_->wantWrite();
    return;
  }
  spdlog::info("event=router_refused peer={} status={} reason=\"{}\"", peer_, status, message);
  stream.responseStarted = true;
  stream.responseEnded = true;
  stream.responseBody = message + "\n";
  stream.responseHeaders = {{":status", std::to_string(status)},
                            {"content-type", "text/plain; charset=utf-8"},
                            {"content-length", std::to_string(stream.responseBody.size())}};
  const auto nv = nvs(stream.responseHeaders);
  nghttp2_data_provider provider{};
  provider.read_callback = downRead;
  nghttp2_submit_response(down_->session(), stream.id, nv.data(), nv.size(), &provider);
  down_->wantWrite();
}

}  // namespace tether::shadow::router
