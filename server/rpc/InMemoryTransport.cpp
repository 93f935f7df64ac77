// InMemoryTransport.cpp - queues instead of pipes.
#include "server/rpc/InMemoryTransport.hpp"

#include <boost/json/serialize.hpp>

namespace tether::rpc {

InMemoryTransport::InMemoryTransport(jsonrpc::FrameLimits limits) : limits_(limits) {}

void InMemoryTransport::push(std::string bytes) {
  {
    std::lock_guard lock(mutex_);
    input_.push_back(std::move(bytes));
  }
  inputReady_.notify_all();
}

void InMemoryTransport::pushMessage(const boost::json::value& message) {
  push(jsonrpc::encodeFrame(boost::json::serialize(message)));
}

void InMemoryTransport::closeInput() {
  {
    std::lock_guard lock(mutex_);
    inputClosed_ = true;
  }
  inputReady_.notify_all();
}

std::optional<boost::json::value> InMemoryTransport::nextOutput(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!outputReady_.wait_for(lock, timeout, [&] { return !output_.empty(); })) return std::nullopt;
  auto value = std::move(output_.front());
  output_.pop_front();
  return value;
}

std::size_t InMemoryTransport::outputCount() const {
  std::lock_guard lock(mutex_);
  return output_.size();
}

void InMemoryTransport::send(const jsonrpc::Message& message) {
  {
    std::lock_guard lock(mutex_);
    output_.push_back(jsonrpc::toJson(message));
  }
  outputReady_.notify_all();
}

LoopEnd InMemoryTransport::loop(FrameHandler& handler) {
  jsonrpc::ContentLengthDecoder decoder(limits_);
  for (;;) {
    std::string chunk;
    {
      std::unique_lock lock(mutex_);
      inputReady_.wait(lock, [&] { return !input_.empty() || inputClosed_; });
      if (input_.empty()) return LoopEnd::EndOfInput;
      chunk = std::move(input_.front());
      input_.pop_front();
    }
    decoder.feed(chunk);
    while (auto event = decoder.next()) {
      if (!event->isFrame()) {
        handler.onFramingError(event->text);
        continue;
      }
      if (!handler.onFrame(event->text)) return LoopEnd::HandlerStopped;
    }
  }
}

}  // namespace tether::rpc
