// LogRedaction.hpp - what a trace log may show of a JSON-RPC message. The IDE sends the debuggee's
// environment (baseEnv) and gets back the launch environment (env) with the session's proxy credentials;
// kubeconfig settings and future methods may carry tokens. A log file travels (bug reports, CI artifacts),
// so secrets are taken out before a body is logged: every value under `env`/`baseEnv`, every value whose
// key names a secret (token, password, secret, credential, authorization, key material), and the password
// of any URL with credentials (scheme://user:password@host).
#pragma once

#include <string>
#include <string_view>

namespace tether::rpc {

inline constexpr std::string_view kRedacted = "<redacted>";

// The message with secrets replaced by kRedacted; text that is not JSON is not shown at all.
std::string redactedForLog(std::string_view body);

}  // namespace tether::rpc
