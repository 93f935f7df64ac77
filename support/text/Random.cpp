// Random.cpp - getrandom(2), retried on EINTR and for short reads.
#include "support/text/Random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tether::support {

std::string randomBytes(std::size_t bytes) {
  std::string out(bytes, '\0');
  std::size_t filled = 0;
  while (filled < bytes) {
    const ssize_t n = ::getrandom(out.data() + filled, bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    filled += static_cast<std::size_t>(n);
  }
  return out;
}

std::string randomHex(std::size_t bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const std::string raw = randomBytes(bytes);
  std::string text;
  text.reserve(bytes * 2);
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    text += kDigits[byte >> 4u];
    text += kDigits[byte & 0xfu];
  }
  return text;
}

}  // namespace tether::support
