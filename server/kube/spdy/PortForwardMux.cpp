// PortForwardMux.cpp - stream pairs, header blocks and control frames of a port-forward connection.
#include "server/kube/spdy/PortForwardMux.hpp"

namespace tether::kube::spdy {

namespace {

constexpr std::uint32_t kLastStreamId = 0x7FFFFFFFu;
constexpr std::size_t kMaxErrorText = 64u * 1024u;  // the server's message; more is cut

std::string statusName(std::uint32_t status) {
  switch (static_cast<ResetStatus>(status)) {
    case ResetStatus::ProtocolError:
      return "PROTOCOL_ERROR";
    case ResetStatus::InvalidStream:
      return "INVALID_STREAM";
    case ResetStatus::RefusedStream:
      return "REFUSED_STREAM";
    case ResetStatus::Cancel:
      return "CANCEL";
    case ResetStatus::InternalError:
      return "INTERNAL_ERROR";
  }
  return "status " + std::to_string(status);
}

}  // namespace

PortForwardMux::PortForwardMux(PortForwardMuxConfig config)
    : config_(config), reader_(config.maxFramePayload) {}

void PortForwardMux::fail(std::string message) {
  if (!failure_) failure_ = std::move(message);
}

void PortForwardMux::emit(PortForwardEvent::Kind kind, std::uint32_t connection, std::string text) {
  events_.push_back(PortForwardEvent{kind, connection, std::move(text)});
}

std::optional<PortForwardEvent> PortForwardMux::popEvent() {
  if (events_.empty()) return std::nullopt;
  auto event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void PortForwardMux::takeOutput(std::string& into) {
  into.clear();
  into.swap(output_);
}

void PortForwardMux::synStream(std::uint32_t id, const HeaderList& headers) {
  std::string payload;
  appendU32(payload, id);
  appendU32(payload, 0);    // no associated stream
  payload.push_back('\0');  // priority 0
  payload.push_back('\0');  // credential slot 0
  payload += compressor_.compress(headers);
  appendControl(output_, ControlType::SynStream, 0, payload);
}

void PortForwardMux::rstStream(std::uint32_t id, ResetStatus status) {
  std::string payload;
  appendU32(payload, id);
  appendU32(payload, static_cast<std::uint32_t>(status));
  appendControl(output_, ControlType::RstStream, 0, payload);
}

std::optional<std::uint32_t> PortForwardMux::open(std::uint16_t port) {
  if (failure_ || goaway_ || nextStreamId_ > kLastStreamId - 2) return std::nullopt;
  const std::uint32_t errorId = nextStreamId_;
  const std::uint32_t dataId = nextStreamId_ + 2;
  nextStreamId_ += 4;
  const std::string requestId = std::to_string(nextRequestId_++);
  const std::string portText = std::to_string(port);
  // The order kubectl uses: the error stream first, closed on our side at once, then the data stream.
  synStream(errorId, {{"streamtype", "error"}, {"port", portText}, {"requestid", requestId}});
  appendData(output_, errorId, kFlagFin, {});
  synStream(dataId, {{"streamtype", "data"}, {"port", portText}, {"requestid", requestId}});
  Connection& c = connections_[dataId];
  c.errorStream = errorId;
  errorStreams_[errorId] = dataId;
  return dataId;
}

bool PortForwardMux::send(std::uint32_t connection, std::string_view bytes) {
  auto it = connections_.find(connection);
  if (failure_ || it == connections_.end() || it->second.reset || it->second.localFin) return false;
  while (!bytes.empty()) {
    const auto n = std::min(bytes.size(), config_.maxSendFrame);
    appendData(output_, connection, 0, bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
  return true;
}

void PortForwardMux::finish(std::uint32_t connection) {
  auto it = connections_.find(connection);
  if (failure_ || it == connections_.end() || it->second.reset || it->second.localFin) return;
  it->second.localFin = true;
  appendData(output_, connection, kFlagFin, {});
}

void PortForwardMux::reset(std::uint32_t connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || it->second.reset) return;
  it->second.reset = true;
  if (failure_) return;
  rstStream(connection, ResetStatus::Cancel);
  rstStream(it->second.errorStream, ResetStatus::Cancel);
}

void PortForwardMux::release(std::uint32_t connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  const Connection& c = it->second;
  if (!c.reset && !(c.localFin && c.remoteFin && c.errorFinished)) reset(connection);
  errorStreams_.erase(c.errorStream);
  connections_.erase(it);
}

void PortForwardMux::ping(std::uint32_t id) {
  if (failure_) return;
  std::string payload;
  appendU32(payload, id);
  appendControl(output_, ControlType::Ping, 0, payload);
}

PortForwardMux::Connection* PortForwardMux::owner(std::uint32_t streamId, std::uint32_t& connection) {
  if (auto it = connections_.find(streamId); it != connections_.end()) {
    connection = streamId;
    return &it->second;
  }
  if (auto it = errorStreams_.find(streamId); it != errorStreams_.end()) {
    connection = it->second;
    auto found = connections_.find(connection);
    return found == connections_.end() ? nullptr : &found->second;
  }
  return nullptr;
}

void PortForwardMux::receive(std::string_view bytes) {
  if (failure_) return;
  reader_.feed(bytes);
  while (!failure_) {
    auto frame = reader_.next();
    if (!frame) break;
    if (frame->control) {
      onControl(*frame);
    } else {
      onData(*frame);
    }
  }
  if (reader_.error()) fail(*reader_.error());
}

void PortForwardMux::onControl(const Frame& frame) {
  const auto need = [&](std::size_t size, const char* what) {
    if (frame.payload.size() >= size) return true;
    fail(std::string("the server sent a ") + what + " frame of " + std::to_string(frame.payload.size()) +
         " bytes; it needs at least " + std::to_string(size));
    return false;
  };
  // Header blocks must be inflated even when ignored: the zlib stream spans the whole connection.
  const auto inflate = [&](std::string_view block) {
    std::string error;
    if (!decompressor_.decompress(block, error)) fail("the server's SPDY headers cannot be read: " + error);
  };
  switch (static_cast<ControlType>(frame.type)) {
    case ControlType::SynReply:
      if (need(4, "SYN_REPLY")) inflate(frame.payload.substr(4));
      break;
    case ControlType::Headers:
      if (need(4, "HEADERS")) inflate(frame.payload.substr(4));
      break;
    case ControlType::SynStream:
      // Port-forward servers never open streams; refuse one politely.
      if (need(10, "SYN_STREAM")) {
        inflate(frame.payload.substr(10));
        if (!failure_) rstStream(readU32(frame.payload) & kLastStreamId, ResetStatus::RefusedStream);
      }
      break;
    case ControlType::RstStream:
      if (need(8, "RST_STREAM")) {
        std::uint32_t connection = 0;
        if (Connection* c = owner(readU32(frame.payload) & kLastStreamId, connection); c && !c->reset) {
          c->reset = true;
          emit(PortForwardEvent::Kind::Reset, connection,
               "the API server reset the forwarded connection (" +
                   statusName(readU32(frame.payload.substr(4))) + ")");
        }
      }
      break;
    case ControlType::Ping:
      if (need(4, "PING")) {
        const std::uint32_t id = readU32(frame.payload);
        if (id % 2 == 1) {
          emit(PortForwardEvent::Kind::Pong, id);  // ours: client pings are odd
        } else {
          appendControl(output_, ControlType::Ping, 0, frame.payload.substr(0, 4));
        }
      }
      break;
    case ControlType::GoAway:
      goaway_ = true;
      break;
    case ControlType::Settings:
    case ControlType::WindowUpdate:
      break;  // spdystream does no flow control; neither do we (see the header)
  }
  // Unknown control types are ignored, as SPDY/3 asks.
}

void PortForwardMux::onData(const Frame& frame) {
  std::uint32_t connection = 0;
  Connection* c = owner(frame.streamId, connection);
  if (c == nullptr || c->reset) return;  // a released connection's late bytes
  if (frame.streamId == c->errorStream) {
    onErrorStreamData(connection, *c, frame);
    return;
  }
  if (c->remoteFin) {
    fail("the server sent data on stream " + std::to_string(frame.streamId) + " after finishing it");
    return;
  }
  if (!frame.payload.empty()) emit(PortForwardEvent::Kind::Data, connection, std::string(frame.payload));
  if (frame.flags & kFlagFin) {
    c->remoteFin = true;
    emit(PortForwardEvent::Kind::End, connection);
  }
}

void PortForwardMux::onErrorStreamData(std::uint32_t connection, Connection& c, const Frame& frame) {
  if (c.errorFinished) return;
  c.errorText.append(frame.payload.substr(0, kMaxErrorText - std::min(kMaxErrorText, c.errorText.size())));
  if (frame.flags & kFlagFin) {
    c.errorFinished = true;
    if (!c.errorText.empty()) emit(PortForwardEvent::Kind::Error, connection, std::move(c.errorText));
  }
}

}  // namespace tether::kube::spdy
