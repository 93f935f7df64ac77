// ClusterCommands.hpp - `tether contexts`, `tether namespaces`, `tether services`: the core's cluster
// queries printed as kubectl prints its tables. Each returns the process exit code.
#pragma once

#include <ostream>

#include "server/cli/Options.hpp"

namespace tether::core {
class Backend;
}

namespace tether::cli {

int runClusterCommand(const Options& options, core::Backend& backend, std::ostream& out, std::ostream& err);

}  // namespace tether::cli
