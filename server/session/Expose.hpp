// Expose.hpp - `--expose local[:remote]` as kt-connect and kubectl users write it, resolved against a
// Service's ports.
//
// `12001:8080` sends what the Service delivers to its port 8080 to local port 12001; `8080` means 8080 on
// both sides. `remote` may name the Service port by number or name, or its targetPort by number or name,
// so users can copy whichever they know. A bad value is refused with the list of valid ones.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "server/kube/Typed.hpp"

namespace tether::session {

class ExposeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct ExposeSpec {
  int local = 0;
  std::string remote;  // as written: a number or a name; empty means "the same as local"
};

struct ExposedPort {
  int local = 0;
  int servicePort = 0;
  std::string portName;
  std::string targetPort;  // the Service's targetPort: a number or a container port name
};

// Parses "12001:8080,9000" (commas or several flags). Throws ExposeError naming the bad item.
std::vector<ExposeSpec> parseExpose(const std::vector<std::string>& values);

// Maps each spec to one Service port. Throws ExposeError listing the Service's ports when one matches none,
// when a remote matches two ports ambiguously, or when two specs use the same local port or Service port.
std::vector<ExposedPort> resolveExpose(const std::vector<ExposeSpec>& specs,
                                       const kube::ServiceSummary& service);

}  // namespace tether::session
