// InMemoryTransport.hpp - a transport for tests: bytes in through push(), messages out into a queue.
//
// Tests feed raw bytes split wherever they like (to exercise framing) and wait for output with a bound,
// never a sleep. loop() runs on the test's reader thread exactly as the stdio loop does in production.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "protocol/jsonrpc/Framing.hpp"
#include "server/rpc/Transport.hpp"

namespace tether::rpc {

class InMemoryTransport : public Transport {
 public:
  explicit InMemoryTransport(jsonrpc::FrameLimits limits = {});

  // Input side.
  void push(std::string bytes);
  void pushMessage(const boost::json::value& message);  // framed with Content-Length
  void closeInput();

  // Output side: the next message sent, waiting at most `timeout`.
  std::optional<boost::json::value> nextOutput(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::size_t outputCount() const;

  void send(const jsonrpc::Message& message) override;
  LoopEnd loop(FrameHandler& handler) override;

 private:
  jsonrpc::FrameLimits limits_;
  mutable std::mutex mutex_;
  std::condition_variable inputReady_;
  std::condition_variable outputReady_;
  std::deque<std::string> input_;
  bool inputClosed_ = false;
  std::deque<boost::json::value> output_;
};

}  // namespace tether::rpc
