// Random.hpp - secrets from the kernel's CSPRNG (getrandom(2)): tunnel tokens, proxy credentials, ids.
// std::random_device makes no such promise on every platform, so nothing secret comes from it.
#pragma once

#include <cstddef>
#include <string>

namespace tether::support {

// `bytes` random bytes as lower-case hex (2 * bytes characters). Throws std::runtime_error naming the
// errno when the kernel cannot give them (never silently weaker randomness).
std::string randomHex(std::size_t bytes);
// `bytes` raw random bytes.
std::string randomBytes(std::size_t bytes);

}  // namespace tether::support
