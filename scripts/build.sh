#!/usr/bin/env bash
# Configures and builds into build/ (binaries in build/bin), showing cmake's progress.
#   scripts/build.sh                                   everything: binaries, tests, demo service
#   scripts/build.sh --target rollback-receiver ...    only these targets (and what they need)
# Other arguments go to cmake's configure step (e.g. -DROLLBACK_WERROR=ON).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=()
configure=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target)
      [ $# -ge 2 ] || { echo "build.sh: --target needs a name" >&2; exit 2; }
      targets+=("$2")
      shift 2
      ;;
    *) configure+=("$1"); shift ;;
  esac
done

jobs="$(nproc)"
echo "build.sh: configuring build/ (cmake, RelWithDebInfo)" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${configure[@]}" >/dev/null
if [ ${#targets[@]} -eq 0 ]; then
  echo "build.sh: building everything into build/ with $jobs jobs" >&2
  cmake --build build -j "$jobs"
else
  echo "build.sh: building ${targets[*]} into build/bin with $jobs jobs" >&2
  cmake --build build -j "$jobs" --target "${targets[@]}"
fi
