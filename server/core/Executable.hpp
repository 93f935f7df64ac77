// Executable.hpp - what a program's file says about how it is linked: an LD_PRELOAD shim reaches only
// programs that the dynamic loader starts (an ELF with a PT_INTERP header, or a script whose interpreter is
// one), so `--outbound preload` refuses a static binary up front instead of silently catching nothing.
#pragma once

#include <string>

namespace tether::core {

enum class Linkage { Dynamic, Static, Script, NotFound, Unknown };

struct ProgramFile {
  Linkage linkage = Linkage::Unknown;
  std::string path;  // where PATH found it
};

// `program` as a shell would run it (a path, or a name looked up in $PATH).
ProgramFile inspectProgram(const std::string& program);

}  // namespace tether::core
