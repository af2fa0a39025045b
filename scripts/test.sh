#!/usr/bin/env bash
# Installs what is missing (test tools too), builds with warnings as errors, runs every test, then the sanitizer and fuzz runs.
#   1. build/       the normal build and the whole CTest suite (unit, integration, rules, stack)
#   2. build-asan/  the suite again under AddressSanitizer + UBSan (not the rules/stack/compose tests,
#                   which are not C++ and run no instrumented code of ours)
#   3. build-tsan/  the concurrency tests under ThreadSanitizer
#   4. build-fuzz/  every libFuzzer target for 10 s (scripts/fuzz.sh; clang)
# Sanitizer findings and fuzz crashes fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"
scripts/install-deps.sh --tests
scripts/build.sh -DROLLBACK_WERROR=ON
(cd build && ctest --output-on-failure -j "$jobs" --timeout 300)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROLLBACK_WERROR=ON \
    -DROLLBACK_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j "$jobs"
# ASAN_OPTIONS/UBSAN_OPTIONS for the tests and their child processes come from cmake/Sanitizers.cmake.
(cd build-asan && ctest --output-on-failure -j "$jobs" --timeout 600 -E '^(rules_|stack_|compose_)')

echo "== ThreadSanitizer (build-tsan)"
tsan_tests=(test_engine test_ledger test_command_runner test_daemon test_recent_keys test_notifier)
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROLLBACK_WERROR=ON \
    -DROLLBACK_SANITIZE=thread >/dev/null
# test_daemon starts bin/rollback-receiver, so that is built (instrumented) too.
cmake --build build-tsan -j "$jobs" --target "${tsan_tests[@]}" rollback-receiver
tsan_pattern="^($(IFS='|'; echo "${tsan_tests[*]}"))\$"
(cd build-tsan && ctest --output-on-failure -j "$jobs" --timeout 600 -R "$tsan_pattern")

echo "== libFuzzer smoke run (build-fuzz)"
scripts/fuzz.sh 10
