#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang) and runs each for SECONDS_PER_TARGET; fails on any crash.
#   scripts/fuzz.sh          10 s per target (the CI smoke run, called by scripts/test.sh)
#   scripts/fuzz.sh 600      the longer run (10 min per target); see docs/fuzzing.md
# Seeds are tests/fuzz/corpus/<name>/ (read only); new inputs go to build-fuzz/corpus/<name>/, kept between
# runs; a crashing input is saved as build-fuzz/artifacts/<name>/crash-<sha1> and the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-10}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (a whole number of seconds, default 10)" >&2
    exit 2
fi
command -v clang++ >/dev/null || { echo "clang++ missing: run scripts/install-deps.sh --tests" >&2; exit 1; }

CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROLLBACK_FUZZ=ON >/dev/null
cmake --build build-fuzz --target fuzz_targets -j "$(nproc)"

failed=()
printf '%-28s %8s %12s %10s %8s %8s\n' target seconds executions execs/s cov features
for source in tests/fuzz/fuzz_*.cpp; do
    target="$(basename "$source" .cpp)"
    name="${target#fuzz_}"
    corpus="build-fuzz/corpus/$name"
    artifacts="build-fuzz/artifacts/$name"
    log="build-fuzz/logs/$name.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536
             -print_final_stats=1 -artifact_prefix="$artifacts/")
    [ -f "tests/fuzz/$name.dict" ] && options+=(-dict="tests/fuzz/$name.dict")
    status=0
    "build-fuzz/bin/$target" "${options[@]}" "$corpus" "tests/fuzz/corpus/$name" >"$log" 2>&1 || status=$?
    executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    coverage="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
    features="$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
    printf '%-28s %8s %12s %10s %8s %8s\n' "$target" "$seconds" "${executions:-?}" "${rate:-?}" \
        "${coverage:-?}" "${features:-?}"
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "FAILED: $target exited with status $status; the end of $log:" >&2
        tail -n 40 "$log" >&2
        ls "$artifacts" >&2
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]} (inputs in build-fuzz/artifacts/; replay one with" \
         "build-fuzz/bin/<target> <file>)" >&2
    exit 1
fi
echo "fuzzing: no crashes, ${seconds}s per target"
