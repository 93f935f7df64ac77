// ExecCredential.hpp - what an exec credential plugin prints (client.authentication.k8s.io ExecCredential),
// read without I/O so that the unit tests and the fuzzer can feed it any text.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace tether::kube {

class CredentialError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ExecCredential {
  std::string token;
  std::string clientCertificatePem;
  std::string clientKeyPem;
  std::optional<std::chrono::system_clock::time_point> expiration;  // nullopt: valid for the process lifetime
};

// Parses the plugin's stdout (separate for unit tests and the fuzzer).
ExecCredential parseExecCredential(const std::string& output, const std::string& expectedApiVersion,
                                   const std::string& userName);

// RFC 3339 ("2026-11-27T12:00:00Z", fractional seconds and offsets accepted); nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text);

}  // namespace tether::kube
