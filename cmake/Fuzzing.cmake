# libFuzzer targets (tests/fuzz/fuzz_<name>.cpp) for the parsers of outside input: ROLLBACK_FUZZ=ON.
#   CXX=clang++ cmake -S . -B build-fuzz -DROLLBACK_FUZZ=ON && cmake --build build-fuzz --target fuzz_targets
# scripts/fuzz.sh does this and runs every target; docs/fuzzing.md has the details. Needs clang (libFuzzer
# ships in Debian's libclang-rt-<version>-dev). The libraries of receiver/ are instrumented for coverage
# (-fsanitize=fuzzer-no-link) and, like the targets, built with AddressSanitizer and UBSan.
option(ROLLBACK_FUZZ "Build the libFuzzer targets in tests/fuzz (needs CMAKE_CXX_COMPILER=clang++)" OFF)

if(ROLLBACK_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ROLLBACK_FUZZ=ON needs clang (libFuzzer): configure a fresh build folder with "
                        "CXX=clang++ (compiler found: ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER})")
  endif()
  if(ROLLBACK_SANITIZE STREQUAL "thread")
    message(FATAL_ERROR "ROLLBACK_FUZZ=ON builds with address,undefined; leave ROLLBACK_SANITIZE empty")
  endif()

  set(fuzz_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  foreach(library receiver_base receiver_http receiver_core rollbackctl_lib)
    target_compile_options(${library} PRIVATE ${fuzz_sanitizers} -fsanitize=fuzzer-no-link)
  endforeach()

  add_custom_target(fuzz_targets)
  file(GLOB FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp)
  foreach(fuzz_source ${FUZZ_SOURCES})
    get_filename_component(fuzz_name ${fuzz_source} NAME_WE)
    add_executable(${fuzz_name} ${fuzz_source})
    target_compile_options(${fuzz_name} PRIVATE ${fuzz_sanitizers} -fsanitize=fuzzer)
    target_link_options(${fuzz_name} PRIVATE ${fuzz_sanitizers} -fsanitize=fuzzer)
    target_link_libraries(${fuzz_name} PRIVATE receiver_core rollbackctl_lib standard_warnings)
    add_dependencies(fuzz_targets ${fuzz_name})
  endforeach()
endif()
