// SessionRuntime.cpp - see SessionRuntime.hpp.
#include "server/session/SessionRuntime.hpp"

#include <spdlog/spdlog.h>

#include "support/exec/IoThreads.hpp"
#include "support/exec/ThreadPool.hpp"

namespace tether::session {

SessionRuntime::SessionRuntime(RuntimeConfig config)
    : io_(std::make_unique<support::IoThreads>(
          config.ioThreads,
          [](const std::string& error) { spdlog::error("session I/O thread: {}", error); })),
      drivers_(std::make_unique<support::ThreadPool>(
          support::ThreadPoolConfig{config.maxDriverThreads, config.driverIdleExit})) {}

SessionRuntime::~SessionRuntime() = default;

}  // namespace tether::session
