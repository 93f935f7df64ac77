// DoctorCommand.hpp - `tether doctor outbound [-- CMD]`: starts a connect session, fetches a Service with
// each runtime found on this machine using only the session's launch environment, and says what reaches
// the cluster, what does not, and which --outbound would catch it; with CMD, judges that program from its
// file (script, Go, static or dynamic binary); and says whether --outbound netns can work here.
#pragma once

#include "server/cli/Options.hpp"

namespace tether::cli {

int runDoctor(const Options& options);

}  // namespace tether::cli
