// StdioTransport.cpp - framed JSON-RPC over file descriptors.
#include "server/rpc/StdioTransport.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include <stdexcept>

#include "server/rpc/LogRedaction.hpp"
#include "server/rpc/PrettyJson.hpp"

namespace tether::rpc {

StdioTransport::StdioTransport(int inputFd, int outputFd, StdioOptions options)
    : inputFd_(inputFd), outputFd_(outputFd), options_(options) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("cannot create the wake-up pipe");
  wakeRead_ = fds[0];
  wakeWrite_ = fds[1];
}

StdioTransport::~StdioTransport() {
  ::close(wakeRead_);
  ::close(wakeWrite_);
  if (const int fd = processFd_.exchange(-1); fd >= 0) ::close(fd);
}

namespace {
constexpr char kWakeStop = 1;
constexpr char kWakeRescan = 2;  // the set of watched descriptors changed
}  // namespace

void StdioTransport::stop() noexcept {
  const char byte = kWakeStop;
  [[maybe_unused]] const auto ignored = ::write(wakeWrite_, &byte, 1);
}

bool StdioTransport::watchProcess(int pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    spdlog::warn("cannot watch the client process {}: {}", pid, std::strerror(errno));
    return false;
  }
  if (const int previous = processFd_.exchange(fd); previous >= 0) ::close(previous);
  const char byte = kWakeRescan;
  [[maybe_unused]] const auto ignored = ::write(wakeWrite_, &byte, 1);
  return true;
}

void StdioTransport::send(const jsonrpc::Message& message) {
  const auto value = jsonrpc::toJson(message);
  const std::string body = options_.pretty ? prettyJson(value) : boost::json::serialize(value);
  if (spdlog::should_log(spdlog::level::trace)) spdlog::trace(">>> {}", redactedForLog(body));
  const std::string frame = jsonrpc::encodeFrame(body);

  std::lock_guard lock(writeMutex_);
  if (outputBroken_) return;
  std::size_t written = 0;
  while (written < frame.size()) {
    const auto n = ::write(outputFd_, frame.data() + written, frame.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The client went away (EPIPE). Keep serving the loop; reading will see EOF soon.
      spdlog::error("writing to the client failed: {}", std::strerror(errno));
      outputBroken_ = true;
      return;
    }
    written += static_cast<std::size_t>(n);
  }
}

template <typename Decoder>
LoopEnd StdioTransport::run(Decoder& decoder, FrameHandler& handler) {
  char buffer[64 * 1024];
  for (;;) {
    const int processFd = processFd_.load();
    pollfd fds[3] = {{inputFd_, POLLIN, 0}, {wakeRead_, POLLIN, 0}, {processFd, POLLIN, 0}};
    if (::poll(fds, processFd >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("waiting for input failed: {}", std::strerror(errno));
      return LoopEnd::ReadError;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      char byte = 0;
      if (::read(wakeRead_, &byte, 1) == 1 && byte == kWakeRescan) continue;
      return LoopEnd::Stopped;
    }
    if (processFd >= 0 && (fds[2].revents & POLLIN) != 0) {
      spdlog::info("the client process exited");
      return LoopEnd::ClientGone;
    }
    const auto n = ::read(inputFd_, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;  // a debugger attaching or a signal must not end the session
      spdlog::error("reading from the client failed: {}", std::strerror(errno));
      return LoopEnd::ReadError;
    }
    if (n == 0) {
      if constexpr (requires { decoder.finish(); }) {
        if (auto last = decoder.finish()) {
          if (last->isFrame()) {
            if (!handler.onFrame(last->text)) return LoopEnd::HandlerStopped;
          } else {
            handler.onFramingError(last->text);
          }
        }
      }
      if (!decoder.atFrameBoundary()) {
        handler.onFramingError("input ended in the middle of a frame");
      }
      return LoopEnd::EndOfInput;
    }
    decoder.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
    while (auto event = decoder.next()) {
      if (!event->isFrame()) {
        handler.onFramingError(event->text);
        continue;
      }
      if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("<<< {}", redactedForLog(event->text));
      if (!handler.onFrame(event->text)) return LoopEnd::HandlerStopped;
    }
  }
}

LoopEnd StdioTransport::loop(FrameHandler& handler) {
  if (options_.inputStyle == InputStyle::Delimited) {
    jsonrpc::DelimitedDecoder decoder(options_.limits);
    return run(decoder, handler);
  }
  jsonrpc::ContentLengthDecoder decoder(options_.limits);
  return run(decoder, handler);
}

}  // namespace tether::rpc
