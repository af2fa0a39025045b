#!/usr/bin/env bash
# Installs the Debian 12 packages that are missing (idempotent), saying what it installs as it goes.
#   scripts/install-deps.sh           what the build and the local stack need (scripts/local-stack)
#   scripts/install-deps.sh --tests   that, and what only the tests need: the fuzzing toolchain, the
#                                     benchmark's wrk, docker-compose, the sqlite3 CLI, the PostgreSQL
#                                     server the ledger tests start, Chromium for the page's browser test
#                                     (scripts/test.sh)
set -euo pipefail

stack_packages=(
  build-essential cmake pkg-config curl ca-certificates openssl
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
  nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libsqlite3-dev
  libpq-dev # the PostgreSQL ledger's client library
  doctest-dev # CMakeLists.txt configures the test executables too, even when only the daemon is built
  prometheus prometheus-alertmanager jq
)
test_packages=(
  git sqlite3 docker-compose
  # PostgreSQL 15: tests/support/postgres_server.hpp runs its initdb and postgres from
  # /usr/lib/postgresql/15/bin as the package's postgres user (never the cluster the package sets up)
  postgresql
  # headless, for the on-call page's browser test (tests/e2e/browser-page.sh, CTest browser_page)
  chromium
  # the webhook benchmark (tests/bench/webhook-throughput.sh)
  wrk
  # libFuzzer builds (scripts/fuzz.sh); llvm-14 brings llvm-symbolizer for readable crash stacks
  clang libclang-rt-14-dev llvm-14
)

packages=("${stack_packages[@]}")
case "${1:-}" in
  "") ;;
  --tests) packages+=("${test_packages[@]}") ;;
  *) echo "usage: scripts/install-deps.sh [--tests]" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: ${#missing[@]} packages missing: ${missing[*]}" >&2
echo "install-deps: apt-get update" >&2
$sudo apt-get update -qq
# One line per package downloaded and set up (with their dependencies); apt's whole output goes to a
# log, shown when it fails. The prometheus packages start their services where systemd runs; the
# project never relies on those.
log="$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX")"
trap 'rm -f "$log"' EXIT
if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}" 2>&1 |
  tee "$log" | awk '
    / newly installed, / { total = $1 + $3; print "install-deps: " total " packages with their dependencies"; fflush() }
    /^Need to get / { print "install-deps: downloading " $4 " " $5; fflush() }
    /^Get:[0-9]+ / { printf "install-deps: downloaded [%d/%d] %s\n", ++got, total, $5; fflush() }
    /^Setting up / { name = $3; sub(/:.*/, "", name); printf "install-deps: set up [%d/%d] %s\n", ++set_up, total, name; fflush() }' >&2; then
  tail -30 "$log" >&2
  echo "install-deps: apt-get install failed (above)" >&2
  exit 1
fi
echo "install-deps: done" >&2
