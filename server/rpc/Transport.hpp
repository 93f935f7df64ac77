// Transport.hpp - how protocol messages enter and leave the backend.
//
// The sending half (`Outgoing`) is thread-safe: replies come from whichever thread finished the work,
// while the reading half runs `loop()` on its own thread. Messages are never interleaved on the wire
// because every send writes one whole frame under a lock.
#pragma once

#include <string_view>

#include "protocol/jsonrpc/Message.hpp"

namespace tether::rpc {

class Outgoing {
 public:
  virtual ~Outgoing() = default;
  // Sends one message. Safe from any thread; never blocks on the reader.
  virtual void send(const jsonrpc::Message& message) = 0;
};

// Receives what the transport decoded. Returning false from onFrame ends the loop (the `exit` notification).
class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  virtual bool onFrame(std::string_view body) = 0;
  // A frame that could not be decoded (bad header, oversized). The stream goes on after it.
  virtual void onFramingError(std::string_view description) = 0;
};

// Stopped: stop() was called (a signal handler asks for an orderly shutdown this way).
// ClientGone: the IDE process named in `initialize` (processId) exited.
enum class LoopEnd { HandlerStopped, EndOfInput, ReadError, Stopped, ClientGone };

class Transport : public Outgoing {
 public:
  // Reads and dispatches until the handler stops, the input ends, or reading fails.
  virtual LoopEnd loop(FrameHandler& handler) = 0;
};

// How input frames are delimited: the LSP base protocol, or `---`-separated messages for tests.
enum class InputStyle { Standard, Delimited };

}  // namespace tether::rpc
