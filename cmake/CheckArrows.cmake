# Checks the dependency arrows of ARCHITECTURE.md on every build (cmake -DROOT=<repo> -P CheckArrows.cmake).
#
# Each module may include only the modules listed for it. Includes are written from the repository
# root ("server/kube/Client.hpp"), so the first two path components of an include name its module.
# Library headers (<...>) are free, except the ones a module must never see (FORBIDDEN_*), such as
# Boost.JSON in `server/core`: the core never sees JSON-RPC or its encoding.
#
# A violation prints "<file>:<line>: <module> may not include <target>" and fails the build.

set(MODULES
  protocol/jsonrpc protocol/tether protocol/tunnel protocol/http1 protocol/mesh
  server/rpc server/ide server/core server/session server/kube server/tunnel server/netns server/cli
  shadow tests bench support)

set(ALLOWED_protocol/jsonrpc protocol/jsonrpc)
set(ALLOWED_protocol/tether  protocol/tether protocol/jsonrpc)
set(ALLOWED_protocol/tunnel  protocol/tunnel)
set(ALLOWED_protocol/http1   protocol/http1)
set(ALLOWED_protocol/mesh    protocol/mesh)
set(ALLOWED_server/rpc       server/rpc protocol/jsonrpc)
set(ALLOWED_server/core      server/core server/session server/kube server/tunnel protocol/mesh)
set(ALLOWED_server/ide       server/ide server/rpc server/core protocol/jsonrpc protocol/tether)
set(ALLOWED_server/session   server/session server/kube server/tunnel server/netns protocol/tunnel protocol/mesh)
set(ALLOWED_server/kube      server/kube)
set(ALLOWED_server/tunnel    server/tunnel protocol/tunnel protocol/http1)
set(ALLOWED_server/netns     server/netns server/tunnel protocol/tunnel support)
set(ALLOWED_server/cli       server/cli server/ide server/rpc server/core server/netns protocol/jsonrpc protocol/tether)
set(ALLOWED_shadow           shadow protocol/tunnel protocol/http1 protocol/mesh)
set(ALLOWED_tests            ANY)
set(ALLOWED_bench            ANY)
set(ALLOWED_support          support)

set(FORBIDDEN_server/core    "boost/json" "boost/beast" "curl/")
set(FORBIDDEN_server/session "boost/json")
set(FORBIDDEN_server/tunnel  "boost/json" "curl/")
set(FORBIDDEN_server/netns   "boost/json" "curl/")
set(FORBIDDEN_protocol/jsonrpc "spdlog/")
set(FORBIDDEN_protocol/tunnel "boost/json")
set(FORBIDDEN_protocol/http1 "boost/" "spdlog/")
set(FORBIDDEN_protocol/mesh  "boost/" "spdlog/")

if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<repository root> -P CheckArrows.cmake")
endif()

set(violations 0)
foreach(module IN LISTS MODULES)
  if(NOT IS_DIRECTORY "${ROOT}/${module}")
    continue()
  endif()
  file(GLOB_RECURSE sources "${ROOT}/${module}/*.hpp" "${ROOT}/${module}/*.cpp" "${ROOT}/${module}/*.h"
       "${ROOT}/${module}/*.hpp.in")
  foreach(source IN LISTS sources)
    file(STRINGS "${source}" lines REGEX "^[ \t]*#[ \t]*include")
    file(RELATIVE_PATH rel "${ROOT}" "${source}")
    foreach(line IN LISTS lines)
      if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
        set(target "${CMAKE_MATCH_1}")
        string(REGEX MATCH "^[^/]+/[^/]+" target_module "${target}")
        string(REGEX MATCH "^[^/]+" target_top "${target}")
        if(NOT target_top MATCHES "^(protocol|server|shadow|tests|bench)$")
          continue()  # a sibling include ("Foo.hpp") or a generated header outside the module tree
        endif()
        if(target_top STREQUAL "shadow")
          set(target_module "shadow")
        endif()
        if(ALLOWED_${module} STREQUAL "ANY")
          continue()
        endif()
        list(FIND ALLOWED_${module} "${target_module}" found)
        if(found EQUAL -1)
          message(SEND_ERROR "${rel}: ${module} may not include ${target} (allowed: ${ALLOWED_${module}})")
          math(EXPR violations "${violations} + 1")
        endif()
      elseif(line MATCHES "#[ \t]*include[ \t]*<([^>]+)>")
        set(target "${CMAKE_MATCH_1}")
        foreach(prefix IN LISTS FORBIDDEN_${module})
          string(FIND "${target}" "${prefix}" at)
          if(at EQUAL 0)
            message(SEND_ERROR "${rel}: ${module} may not include <${target}>")
            math(EXPR violations "${violations} + 1")
          endif()
        endforeach()
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations GREATER 0)
  message(FATAL_ERROR "${violations} dependency-arrow violation(s); see ARCHITECTURE.md §Layout and dependency rules")
endif()
