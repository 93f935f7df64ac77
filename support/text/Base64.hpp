// Base64.hpp - standard base64 (RFC 4648): kubeconfig *-data fields, exec credentials, HTTP Basic auth.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tether::support {

// nullopt when the text is not valid base64 (whitespace and newlines are ignored, as kubectl does).
std::optional<std::string> decodeBase64(std::string_view text);
std::string encodeBase64(std::string_view bytes);

}  // namespace tether::support
