#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the local stack need (idempotent).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git curl ca-certificates openssl
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
  nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev doctest-dev libsqlite3-dev sqlite3
  prometheus prometheus-alertmanager
  jq docker-compose
  # the webhook benchmark (tests/bench/webhook-throughput.sh)
  wrk
  # libFuzzer builds (scripts/fuzz.sh); llvm-14 brings llvm-symbolizer for readable crash stacks
  clang libclang-rt-14-dev llvm-14
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
# The prometheus packages start their services where systemd runs; the project never relies on those.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
