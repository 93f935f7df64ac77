// FuzzExecCredential.cpp - libFuzzer target for what an exec credential plugin prints: any text either
// parses or is refused with a CredentialError, and any timestamp text is read without stepping past its
// end (the offset parser once did on "+1:2"). Nothing else may escape.
// fuzz-links: tether_kube_exec_credential
#include <cstdint>
#include <string>

#include "server/kube/ExecCredential.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The timestamp parser alone, on the raw text (std::string keeps it NUL-terminated, as c_str() promises).
  (void)tether::kube::parseRfc3339(text);
  try {
    (void)tether::kube::parseExecCredential(text, "client.authentication.k8s.io/v1", "fuzz");
  } catch (const tether::kube::CredentialError&) {
    // Refused with a message: the expected outcome for malformed output.
  }
  return 0;
}
