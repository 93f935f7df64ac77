// SessionCommands.hpp - `tether exchange`, `tether clean`, `tether recover`. Each returns the exit code.
#pragma once

#include "server/cli/Options.hpp"

namespace tether::cli {

// Blocks SIGINT, SIGTERM, SIGCHLD and SIGUSR1 in the calling thread; call before any thread starts, so
// every thread inherits the mask and only `runExchange`'s sigwait sees them.
void blockSessionSignals();

int runSession(const Options& options);
int runClean(const Options& options);

}  // namespace tether::cli
