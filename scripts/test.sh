#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every test (unit and integration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DROLLBACK_WERROR=ON
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 300
