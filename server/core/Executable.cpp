// Executable.cpp - PATH lookup and the ELF program headers (64- and 32-bit, either byte order).
#include "server/core/Executable.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace tether::core {

namespace {

constexpr std::uint32_t kInterp = 3;  // PT_INTERP

std::uint64_t readUnsigned(const unsigned char* at, int size, bool little) {
  std::uint64_t value = 0;
  for (int i = 0; i < size; ++i) {
    const int index = little ? size - 1 - i : i;
    value = (value << 8) | at[index];
  }
  return value;
}

Linkage elfLinkage(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.size() >= 2 && bytes[0] == '#' && bytes[1] == '!') return Linkage::Script;
  if (bytes.size() < 52 || std::memcmp(bytes.data(),
                                       "\x7f"
                                       "ELF",
                                       4) != 0)
    return Linkage::Unknown;
  const bool wide = bytes[4] == 2;
  const bool little = bytes[5] == 1;
  const auto* data = bytes.data();
  const std::uint64_t phoff = wide ? readUnsigned(data + 32, 8, little) : readUnsigned(data + 28, 4, little);
  const std::uint64_t phentsize = readUnsigned(data + (wide ? 54 : 42), 2, little);
  const std::uint64_t phnum = readUnsigned(data + (wide ? 56 : 44), 2, little);
  for (std::uint64_t i = 0; i < phnum; ++i) {
    const std::uint64_t at = phoff + i * phentsize;
    if (at + 4 > bytes.size()) return Linkage::Unknown;
    if (readUnsigned(data + at, 4, little) == kInterp) return Linkage::Dynamic;
  }
  return Linkage::Static;
}

}  // namespace

ProgramFile inspectProgram(const std::string& program) {
  ProgramFile file;
  if (program.find('/') != std::string::npos) {
    file.path = program;
  } else if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      const auto candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
      if (::access(candidate.c_str(), X_OK) == 0) {
        file.path = candidate;
        break;
      }
    }
  }
  if (file.path.empty() || ::access(file.path.c_str(), F_OK) != 0) {
    file.linkage = Linkage::NotFound;
    return file;
  }
  file.linkage = elfLinkage(file.path);
  return file;
}

}  // namespace tether::core
