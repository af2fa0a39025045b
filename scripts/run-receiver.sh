#!/usr/bin/env bash
# Installs what is missing, builds, and starts the receiver on config/receiver.yml (127.0.0.1:9095,
# SQLite ledger in config/data/). Extra arguments go to the daemon, e.g. --dry-run or --log.format=json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/bin/rollback-receiver --config.file=config/receiver.yml "$@"
