# Sanitizer builds: ROLLBACK_SANITIZE="address,undefined" or "thread" instruments every target and test.
#   cmake -S . -B build-asan -DROLLBACK_SANITIZE=address,undefined
#   cmake -S . -B build-tsan -DROLLBACK_SANITIZE=thread
# Included by the top CMakeLists.txt before any target, so the flags reach receiver_core, the binaries the
# integration tests start as child processes, and the tests. UBSan findings are fatal
# (-fno-sanitize-recover=all), so a finding fails its test instead of scrolling past in the log.
set(ROLLBACK_SANITIZE "" CACHE STRING "Sanitizers to build with: empty, address,undefined, or thread")
set_property(CACHE ROLLBACK_SANITIZE PROPERTY STRINGS "" "address,undefined" "thread")

if(ROLLBACK_SANITIZE)
  if(NOT ROLLBACK_SANITIZE MATCHES "^(address,undefined|thread)$")
    message(FATAL_ERROR "ROLLBACK_SANITIZE=${ROLLBACK_SANITIZE}: "
                        "use \"\", \"address,undefined\" or \"thread\"")
  endif()
  add_compile_options(-fsanitize=${ROLLBACK_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${ROLLBACK_SANITIZE})
  # GCC 12 warns "may be used uninitialized" inside libstdc++'s std::regex (regex_automaton.h) once
  # ASan instruments it, a false positive the GCC manual warns of for sanitizer builds; with
  # ROLLBACK_WERROR it would stop the build. The normal build keeps the warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
  if(ROLLBACK_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=all)
    add_link_options(-fno-sanitize-recover=all)
  endif()

  # Runtime options for every CTest test and the child processes it starts (they inherit the
  # environment). Findings stop the process with a non-zero status and a stack; LeakSanitizer is on
  # (it works in this project's CI container; set ASAN_OPTIONS=detect_leaks=0 by hand where ptrace is
  # forbidden and it reports "LeakSanitizer has encountered a fatal error").
  set(ROLLBACK_SANITIZER_ENVIRONMENT
      "ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1"
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
      "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1")

  # The tests are defined after this file is read: set their environment at the end of the directory.
  function(rollback_set_sanitizer_environment)
    get_property(all_tests DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY TESTS)
    foreach(test_name ${all_tests})
      set_property(TEST ${test_name} APPEND PROPERTY ENVIRONMENT ${ROLLBACK_SANITIZER_ENVIRONMENT})
    endforeach()
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL rollback_set_sanitizer_environment)
endif()
