# Warning flags for Tether's own targets. Third-party headers come from /usr/include and are
# treated as system headers, so these flags only judge our code.
add_library(tether_warnings INTERFACE)
target_compile_options(tether_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wformat=2 -Wundef)
if(TETHER_WERROR)
  target_compile_options(tether_warnings INTERFACE -Werror)
endif()

# A module library: sources, the repository root and the generated dir as include roots, warnings.
function(tether_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${TETHER_ROOT} ${CMAKE_BINARY_DIR}/generated)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE tether_warnings)
  # The unit-test binary links every module that registered itself here.
  set_property(GLOBAL APPEND PROPERTY TETHER_MODULES ${name})
endfunction()
