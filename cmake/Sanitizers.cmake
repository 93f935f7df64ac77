# ASan + UBSan for the `asan` preset, and the instrumentation libFuzzer needs for the `fuzz` preset.
# Applied globally so every module and test shares one runtime.
if(TETHER_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
if(TETHER_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TETHER_FUZZ needs clang (libFuzzer); use the `fuzz` preset")
  endif()
  # ASan only: clang 14 cannot compile C++20 coroutines (the tunnel, port-forward) with UBSan ("Cannot
  # represent a difference across sections"). UBSan still covers every unit test in the GCC `asan` preset.
  add_compile_options(-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address)
endif()
