// StdioTransport.hpp - protocol messages over a pair of file descriptors (stdin/stdout in production).
//
// The input is read with plain read(2) on the calling thread: no Asio here, because stdin may be a
// pipe, a file (transcript tests) or a terminal, and only read(2) treats all three alike. Output frames
// are written whole under a mutex, so replies from worker threads never interleave.
// stdout carries protocol messages only; the transport is the only writer of the output descriptor.
#pragma once

#include <atomic>
#include <mutex>

#include "protocol/jsonrpc/Framing.hpp"
#include "server/rpc/Transport.hpp"

namespace tether::rpc {

struct StdioOptions {
  InputStyle inputStyle = InputStyle::Standard;
  jsonrpc::FrameLimits limits;
  bool pretty = false;  // indent output JSON (transcript tests read it more easily)
};

class StdioTransport : public Transport {
 public:
  StdioTransport(int inputFd, int outputFd, StdioOptions options = {});

  ~StdioTransport() override;

  void send(const jsonrpc::Message& message) override;
  LoopEnd loop(FrameHandler& handler) override;
  // Ends loop() with LoopEnd::Stopped. Async-signal-safe: it only writes one byte to a pipe.
  void stop() noexcept;
  // Ends loop() with LoopEnd::ClientGone when process `pid` exits (LSP's processId: a crashed IDE must not
  // leave the backend, and the sessions it holds, running). Event-driven through a pidfd, no polling.
  // Returns false when the process does not exist or cannot be watched. Thread-safe.
  bool watchProcess(int pid);

 private:
  template <typename Decoder>
  LoopEnd run(Decoder& decoder, FrameHandler& handler);

  int inputFd_;
  int outputFd_;
  StdioOptions options_;
  std::mutex writeMutex_;
  bool outputBroken_ = false;
  int wakeRead_ = -1;  // self-pipe: loop() polls it beside the input
  int wakeWrite_ = -1;
  std::atomic<int> processFd_{-1};  // pidfd of the watched client process, -1 when none
};

}  // namespace tether::rpc
