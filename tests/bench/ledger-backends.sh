#!/usr/bin/env bash
# Benchmark: rollback-receiver on the PostgreSQL ledger against the SQLite ledger, side by side in one run (not a CTest test; results in docs/benchmark.md).
#
#   tests/bench/ledger-backends.sh          (about 6 minutes with the defaults below)
#
# Starts a throwaway PostgreSQL 15 of its own (initdb into a temporary folder owned by the system user
# "postgres", as tests/support/postgres_server.hpp does; loopback only, a free port from
# scripts/lib/free-port.sh, its unix socket in that folder, durability settings left at their defaults:
# fsync on, synchronous_commit on), stopped by its PID at the end. Then, with one receiver config that
# differs only in its `ledger:` (`{path: ledger.db}` or `{postgres: {dsn_file: ..., claim_lease: 30s}}`,
# a database of its own per case; tokens, debounce 0s, action `true` otherwise):
#
# Part 1, throughput (wrk, BENCH_THREADS=2 threads, BENCH_CONNECTIONS=8 keep-alive connections,
# BENCH_DURATION=10s per run, BENCH_REPEATS=5 runs; the lua scripts of tests/bench/webhook/):
#   no_match      POST /webhook, the 10-alert notification for service "search", which has no deployment
#   handled       the same notification for "checkout", whose deployment it already rolled back once
#   deployments   POST /api/v1/deployments, every request a new deployment
# Every run starts a fresh receiver; a case keeps its ledger (SQLite file or PostgreSQL database) across
# its runs. Backends alternate run by run (PostgreSQL first in odd repeats, SQLite first in even ones), so
# a burst of load elsewhere on the machine hits both. Printed per case and backend: medians of
# requests/s, p50 and p99 (wrk's), the highest peak RSS, the receiver's CPU time per request and, for
# PostgreSQL, the CPU time of the server's processes per request; and the median of the per-repeat
# PostgreSQL/SQLite ratios of requests/s and p99.
#
# Part 2, time to action: one receiver per backend, both running; BENCH_ACTIONS=20 times per backend
# (alternating), a new deployment of a new service is recorded, then one firing notification (the same
# 10 alerts, startsAt now) is sent with curl; the rollback command is a tiny script that writes
# `date +%s%N` into a file. Time: $EPOCHREALTIME just before curl starts to that timestamp (curl's own
# start is in it, the same for both backends). Median, max and min per backend, the median time until
# curl had the answer (after all 10 alerts: the other 9 are each audited as alert_ignored, a durable
# write each), and the median of curl's own floor (GET /-/healthy, curl's start to its exit).
#
# Binaries from $ROLLBACK_BINARY_DIR/bin (default build/bin). BENCH_PG_BIN: PostgreSQL's binaries
# (default /usr/lib/postgresql/15/bin). BENCH_KEEP=1 keeps the work folder (logs, ledgers, raw results).
set -euo pipefail
umask 077 # its token and DSN files: the receiver refuses ones its group or others may write

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${ROLLBACK_BINARY_DIR:-$root/build}/bin"
pg_bin="${BENCH_PG_BIN:-/usr/lib/postgresql/15/bin}"
duration="${BENCH_DURATION:-10s}"
connections="${BENCH_CONNECTIONS:-8}"
threads="${BENCH_THREADS:-2}"
repeats="${BENCH_REPEATS:-5}"
actions="${BENCH_ACTIONS:-20}"
cases="no_match handled deployments"
work="$(mktemp -d "${TMPDIR:-/tmp}/ledger-bench.XXXXXX")"
pg_dir=""
pg_pid=""
pg_port=""
server_pid=""
port=""
other_pids=()

cleanup() {
  local status=$? pid
  trap - EXIT
  [ -n "$server_pid" ] && stop_server
  for pid in "${other_pids[@]}"; do server_pid="$pid" && stop_server; done
  [ -n "$pg_pid" ] && stop_postgres
  [ -n "$pg_dir" ] && { cp "$pg_dir/server.log" "$work/postgres.log" 2>/dev/null || true; rm -rf "$pg_dir"; }
  if [ "$status" -eq 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "bench: data kept in $work" >&2; fi
  exit "$status"
}
trap cleanup EXIT
die() { echo "bench: $*" >&2; exit 1; }

for tool in wrk curl jq psql setpriv; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh --tests installs it)"; done
receiver_bin="$bin/rollback-receiver"
[ -x "$receiver_bin" ] || die "$receiver_bin does not exist (build it, or set ROLLBACK_BINARY_DIR)"
[ -x "$pg_bin/initdb" ] || die "no $pg_bin/initdb (Debian's postgresql-15; or set BENCH_PG_BIN)"

# shellcheck source-path=SCRIPTDIR/../.. source=scripts/lib/free-port.sh
source "$root/scripts/lib/free-port.sh"

# A sleep without a fork: read from a FIFO nobody writes to, with a timeout.
mkfifo "$work/never"
exec {never_fd}<>"$work/never"
nap() { read -r -t "$1" -u "$never_fd" _ || true; }

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
clk_tck="$(getconf CLK_TCK)"
# CPU ticks (user + system) of one process, and of every process of the PostgreSQL server.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_cpu_ticks() {  # (cat fails when a process ended between the glob and its read)
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pp="$pg_pid" '$2 == "(postgres)" && ($1 == pp || $4 == pp) {s += $14 + $15} END {print s + 0}'
}

# ---------------------------------------------------------------------------------------- PostgreSQL
# Root cannot run PostgreSQL: the package's system user "postgres" runs it (setpriv execs it, so $! is the
# server's PID), in a folder it owns. Durability settings stay at their defaults (fsync, synchronous_commit).
as_postgres=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root and there is no user \"postgres\" to run PostgreSQL"
  as_postgres=(setpriv "--reuid=$(id -u postgres)" "--regid=$(id -g postgres)" --clear-groups --)
fi
pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/ledger-bench-pg.XXXXXX")"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_dir"
"${as_postgres[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C --no-instructions \
  >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; die "initdb failed"; }

stop_postgres() {
  local i
  kill -INT "$pg_pid" 2>/dev/null || true # fast shutdown
  for ((i = 0; i < 600; i++)); do kill -0 "$pg_pid" 2>/dev/null || break; nap 0.05; done # its shutdown checkpoint
  kill -KILL "$pg_pid" 2>/dev/null || true
  wait "$pg_pid" 2>/dev/null || true
  pg_pid=""
}

start_postgres() {
  local attempt i
  for ((attempt = 1; attempt <= 5; attempt++)); do
    pg_port="$(free_port)" || die "no free port"
    "${as_postgres[@]}" "$pg_bin/postgres" -D "$pg_dir/data" -k "$pg_dir" -c listen_addresses=127.0.0.1 \
      -p "$pg_port" -c max_connections=50 >>"$pg_dir/server.log" 2>&1 &
    pg_pid=$!
    for ((i = 0; i < 400; i++)); do
      "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && return 0
      kill -0 "$pg_pid" 2>/dev/null || break
      nap 0.05
    done
    stop_postgres
    grep -qE 'could not bind|could not create any TCP/IP sockets' "$pg_dir/server.log" || break
  done
  tail -20 "$pg_dir/server.log" >&2
  die "PostgreSQL did not start"
}

pg() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres "$@"; }

start_postgres
pg -c "CREATE ROLE rollback LOGIN"
for c in $cases tta; do pg -c "CREATE DATABASE bench_$c OWNER rollback"; done

# ------------------------------------------------------------------------------------------ receivers
probe_ready() {  # 0 when GET /-/ready answers 200; no curl, so polling costs no process starts
  local status_line=""
  { exec {probe_fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET /-/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' 1>&"$probe_fd" 2>/dev/null || true
  read -r -t 2 -u "$probe_fd" status_line || true
  exec {probe_fd}<&-
  [[ "$status_line" == *" 200 "* ]]
}

stop_server() {
  local i
  kill -TERM "$server_pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$server_pid" 2>/dev/null || break; nap 0.05; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# Starts the receiver of folder $1; sets server_pid and port. Another port when the first one was taken.
start_receiver() {
  local attempt i
  for ((attempt = 1; attempt <= 3; attempt++)); do
    port="$(free_port)" || die "no free port"
    "$receiver_bin" --config.file="$1/receiver.yml" --web.listen-address="127.0.0.1:$port" --log.level=warn \
      >>"$1/receiver.log" 2>&1 &
    server_pid=$!
    for ((i = 0; i < 2000; i++)); do
      probe_ready && return 0
      kill -0 "$server_pid" 2>/dev/null || break
      nap 0.005
    done
    stop_server
  done
  tail -20 "$1/receiver.log" >&2
  die "the receiver in $1 did not become ready"
}

webhook_token="bench-webhook-$RANDOM$RANDOM"
api_token="bench-api-$RANDOM$RANDOM"

# A receiver folder $1 for backend $2 (pg|sqlite), PostgreSQL database $3, rollback command $4 (a YAML list).
make_receiver_dir() {
  local ledger
  mkdir -p "$1"
  printf '%s\n' "$webhook_token" >"$1/webhook-token"
  printf '%s\n' "$api_token" >"$1/api-token"
  if [ "$2" = pg ]; then
    printf 'host=127.0.0.1 port=%s dbname=%s user=rollback connect_timeout=5\n' "$pg_port" "$3" >"$1/ledger-dsn"
    ledger="{postgres: {dsn_file: ledger-dsn, claim_lease: 30s}}"
  else
    ledger="{path: ledger.db}"
  fi
  cat >"$1/receiver.yml" <<EOF
# Benchmark receiver (tests/bench/ledger-backends.sh), backend $2.
listen_address: 127.0.0.1:0
ledger: $ledger
audit: {file: audit.jsonl}
auth:
  webhook_token_file: webhook-token
  api_token_file: api-token
defaults:
  watch_window: 30m
  debounce: 0s
  rollback: {command: $4, timeout: 1m, retries: 0}
EOF
}

api() {  # METHOD PATH [BODY]: the API of the receiver started last
  curl -fsS --max-time 10 -X "$1" -H "Authorization: Bearer $api_token" \
    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$port$2"
}
post_webhook() {  # BODY-FILE: to the receiver started last
  curl -fsS --max-time 10 -o /dev/null -H "Authorization: Bearer $webhook_token" -H 'Content-Type: application/json' \
    --data-binary "@$1" "http://127.0.0.1:$port/webhook"
}
metric_lines() { curl -fsS --max-time 10 "http://127.0.0.1:$port/metrics" | grep -E "^rollback_receiver_($1)" || true; }
# The 10-alert notification for service $1, startsAt now, into file $2.
notification_for() {
  sed "s/checkout/$1/g" "$here/webhook/notification-10-alerts.json" |
    jq -c --arg now "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" '.alerts[].startsAt = $now' >"$2"
}
wait_state() {  # ID STATE: at most 10 s
  local i state=""
  for ((i = 0; i < 200; i++)); do
    state="$(api GET "/api/v1/deployments/$1" | jq -r .state)"
    [ "$state" = "$2" ] && return 0
    nap 0.05
  done
  die "deployment $1 is $state, not $2, 10 s after the webhook"
}

sed 's/checkout/search/g' "$here/webhook/notification-10-alerts.json" >"$work/no_match.json"

# Runs wrk once against the receiver started last: $1 case, $2 backend; prints the BENCH line.
run_wrk() {
  local lua token body=""
  case "$1" in
    no_match) lua=webhook.lua token="$webhook_token" body="$work/no_match.json" ;;
    handled) lua=webhook.lua token="$webhook_token" body="$work/handled-$2.json" ;;
    deployments) lua=deployments.lua token="$api_token" ;;
  esac
  BENCH_BODY_FILE="$body" BENCH_TOKEN="$token" BENCH_RUN="r$RANDOM$RANDOM" BENCH_CONNECTION=keep-alive \
    wrk -t"$threads" -c"$connections" -d"$duration" --timeout 10s -s "$here/webhook/$lua" \
    "http://127.0.0.1:$port" >"$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; die "wrk failed"; }
  grep '^BENCH ' "$work/wrk.out" || { cat "$work/wrk.out" >&2; die "wrk printed no result"; }
}

# One measured run: $1 case, $2 backend, $3 repeat.
measure() {
  local line rss codes errors requests cpu0 cpu1 pgcpu0 pgcpu1 cpu_us pg_us="-"
  start_receiver "$work/$2-$1"
  cpu0="$(cpu_ticks "$server_pid")" pgcpu0="$(pg_cpu_ticks)"
  line="$(run_wrk "$1" "$2")"
  cpu1="$(cpu_ticks "$server_pid")" pgcpu1="$(pg_cpu_ticks)"
  rss="$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")"
  codes="$(metric_lines 'http_requests_total\{handler="/(webhook|api/v1/deployments)"')"
  echo "$1 $2 rep $3: $(tr '\n' ' ' <<<"$codes")" >>"$work/metrics.log"
  stop_server
  grep -vqE 'code="(200|201)"' <<<"$codes" && die "$1 $2: the receiver answered other codes: $codes"
  [ "$1" != deployments ] || ! grep -qE 'code="(200|409)"' <<<"$codes" || die "$1 $2: not every request created a deployment: $codes"
  [ "$(field err_status "$line")" = 0 ] || die "$1 $2: wrk saw error statuses: $line"
  errors=$(($(field err_connect "$line") + $(field err_read "$line") + $(field err_write "$line") + $(field err_timeout "$line")))
  requests="$(field requests "$line")"
  cpu_us="$(awk -v t=$((cpu1 - cpu0)) -v hz="$clk_tck" -v n="$requests" 'BEGIN {printf "%.0f", t * 1e6 / hz / n}')"
  [ "$2" = pg ] && pg_us="$(awk -v t=$((pgcpu1 - pgcpu0)) -v hz="$clk_tck" -v n="$requests" 'BEGIN {printf "%.0f", t * 1e6 / hz / n}')"
  printf '%s %s %s %s %s %s %s %s %s %s\n' "$1" "$2" "$3" "$(field rps "$line")" "$(field p50_us "$line")" \
    "$(field p99_us "$line")" "$rss" "$cpu_us" "$pg_us" "$errors" >>"$work/results"
  printf '  %-11s %-6s rep %s: %9s req/s  p50 %6s us  p99 %7s us  RSS %6s KiB  receiver CPU %4s us/req  postgres CPU %4s us/req  socket errors %s  load %s\n' \
    "$1" "$2" "$3" "$(field rps "$line")" "$(field p50_us "$line")" "$(field p99_us "$line")" "$rss" "$cpu_us" "$pg_us" \
    "$errors" "$(cut -d' ' -f1 /proc/loadavg)"
}
column() {  # $1 case $2 backend $3 column (4 rps, 5 p50, 6 p99, 7 rss, 8 receiver cpu, 9 pg cpu)
  awk -v c="$1" -v b="$2" -v k="$3" '$1 == c && $2 == b {print $k}' "$work/results"
}
ratio() {  # $1 case $2 column: median of the per-repeat pg/sqlite ratios
  paste <(awk -v c="$1" '$1 == c && $2 == "pg" {print $3, $k}' k="$2" "$work/results" | sort -n | cut -d' ' -f2) \
    <(awk -v c="$1" '$1 == c && $2 == "sqlite" {print $3, $k}' k="$2" "$work/results" | sort -n | cut -d' ' -f2) |
    awk '{printf "%f\n", $1 / $2}' | median
}
ms() { awk -v us="$1" 'BEGIN {if (us == "-") print "-"; else printf "%.2f", us / 1000}'; }

dsync_ms() {  # ms per 4 KiB write with O_DSYNC in the work folder: what one durable commit costs at least
  local seconds
  seconds="$(dd if=/dev/zero of="$work/dsync-probe" bs=4096 count=200 oflag=dsync 2>&1 | tail -1 |
    awk -F', ' '{print $(NF - 1)}' | cut -d' ' -f1)"
  rm -f "$work/dsync-probe"
  awk -v s="$seconds" 'BEGIN {printf "%.2f", s * 1000 / 200}'
}

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "receiver: $("$receiver_bin" --version 2>&1 | head -1) from $bin; wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), $threads threads, $connections keep-alive connections, $duration per run, $repeats repeats"
echo "postgres: $("$pg_bin/postgres" --version) on 127.0.0.1:$pg_port, data in $pg_dir;" \
  "$(pg -At -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes', 'shared_buffers')")"
echo "disk: 200 writes of 4 KiB with O_DSYNC in ${TMPDIR:-/tmp}: $(dsync_ms) ms each"

# ============================================================================= part 1: throughput
echo
echo "== throughput: PostgreSQL and SQLite ledgers, alternating run by run"
: >"$work/results"
for backend in pg sqlite; do
  for c in $cases; do make_receiver_dir "$work/$backend-$c" "$backend" "bench_$c" '["true"]'; done
  # handled: checkout's deployment, rolled back once by this notification; sent again it is a repeat.
  start_receiver "$work/$backend-handled"
  api POST /api/v1/deployments '{"id":"bench-checkout-1","service":"checkout","environment":"prod","version":"v2","previous_version":"v1"}' >/dev/null
  nap 0.01
  notification_for checkout "$work/handled-$backend.json"
  post_webhook "$work/handled-$backend.json"
  wait_state bench-checkout-1 rolled_back
  stop_server
done
for ((rep = 1; rep <= repeats; rep++)); do
  order="pg sqlite"
  ((rep % 2)) || order="sqlite pg"
  for c in $cases; do
    for backend in $order; do measure "$c" "$backend" "$rep"; done
  done
done

# ========================================================================== part 2: time to action
echo
echo "== time to action: $actions firing notifications per backend, alternating"
cat >"$work/action.sh" <<EOF
#!/bin/sh
# The rollback command of tests/bench/ledger-backends.sh: when it started, in ns, into <deployment id>.started.
date +%s%N >"$work/actions/\$1.tmp" && mv "$work/actions/\$1.tmp" "$work/actions/\$1.started"
EOF
chmod 0700 "$work/action.sh"
mkdir -p "$work/actions"
declare -A tta_pid tta_port
for backend in pg sqlite; do
  make_receiver_dir "$work/$backend-tta" "$backend" bench_tta "[\"$work/action.sh\", \"{{deployment_id}}\"]"
  start_receiver "$work/$backend-tta"
  tta_pid[$backend]="$server_pid" tta_port[$backend]="$port"
  other_pids+=("$server_pid")
  server_pid=""
done
: >"$work/tta"
for ((i = 1; i <= actions; i++)); do
  order="pg sqlite"
  ((i % 2)) || order="sqlite pg"
  for backend in $order; do
    port="${tta_port[$backend]}"
    id="tta-$backend-$i"
    api POST /api/v1/deployments "{\"id\":\"$id\",\"service\":\"svc-tta-$i\",\"environment\":\"prod\",\"version\":\"v2\",\"previous_version\":\"v1\"}" >/dev/null
    nap 0.01
    notification_for "svc-tta-$i" "$work/tta-body.json"
    t0=$EPOCHREALTIME
    post_webhook "$work/tta-body.json"
    t_answer=$EPOCHREALTIME
    for ((w = 0; w < 2000; w++)); do [ -f "$work/actions/$id.started" ] && break; nap 0.005; done
    [ -f "$work/actions/$id.started" ] || die "the rollback of $id did not start within 10 s"
    wait_state "$id" rolled_back
    # curl's own floor on this machine: start, a GET /-/healthy over a new connection, exit.
    t_floor=$EPOCHREALTIME
    curl -fsS --max-time 10 -o /dev/null "http://127.0.0.1:$port/-/healthy"
    floor_us=$((10#${EPOCHREALTIME/./} - 10#${t_floor/./}))
    started_ns="$(cat "$work/actions/$id.started")"
    # In integer microseconds ($EPOCHREALTIME has 6 decimals), exact in bash's 64-bit arithmetic.
    start_us=$((started_ns / 1000)) t0_us=$((10#${t0/./})) answer_us=$((10#${t_answer/./}))
    awk -v b="$backend" -v s=$((start_us - t0_us)) -v a=$((answer_us - t0_us)) -v f="$floor_us" \
      'BEGIN {printf "%s %.2f %.2f %.2f\n", b, s / 1e3, a / 1e3, f / 1e3}' >>"$work/tta"
  done
done
for backend in pg sqlite; do server_pid="${tta_pid[$backend]}" && stop_server; done
other_pids=()

# ============================================================================================ tables
echo
echo "throughput, keep-alive, medians of $repeats runs (PG/SQLite: median of the per-repeat ratios; CPU: per request):"
printf '| %-11s | %-10s | %9s | %8s | %8s | %12s | %16s | %16s | %15s | %13s |\n' case backend "req/s" "p50 ms" "p99 ms" "peak RSS MiB" "receiver CPU us" "postgres CPU us" "PG/SQLite req/s" "PG/SQLite p99"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------- ------------ ----------- ---------- ---------- -------------- ------------------ ------------------ ----------------- ---------------
for c in $cases; do
  for backend in pg sqlite; do
    printf '| %-11s | %-10s | %9.0f | %8s | %8s | %12s | %16s | %16s | %15s | %13s |\n' "$c" \
      "$([ "$backend" = pg ] && echo PostgreSQL || echo SQLite)" \
      "$(column "$c" "$backend" 4 | median)" "$(ms "$(column "$c" "$backend" 5 | median)")" \
      "$(ms "$(column "$c" "$backend" 6 | median)")" \
      "$(awk -v kb="$(column "$c" "$backend" 7 | sort -g | tail -1)" 'BEGIN {printf "%.1f", kb / 1024}')" \
      "$(column "$c" "$backend" 8 | median)" "$([ "$backend" = pg ] && column "$c" pg 9 | median || echo -)" \
      "$([ "$backend" = pg ] && awk -v r="$(ratio "$c" 4)" 'BEGIN {printf "%.2f", r}' || echo)" \
      "$([ "$backend" = pg ] && awk -v r="$(ratio "$c" 6)" 'BEGIN {printf "%.2f", r}' || echo)"
  done
done
echo
echo "time to action: just before curl POSTs the firing notification -> the rollback command's first line, ms"
echo "(answer: until curl returned, after all 10 alerts; curl floor: curl GET /-/healthy, start to exit):"
printf '| %-10s | %3s | %9s | %7s | %7s | %16s | %18s |\n' backend n "median ms" "max ms" "min ms" "answer median ms" "curl floor median"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------ ----- ----------- --------- --------- ------------------ --------------------
for backend in pg sqlite; do
  printf '| %-10s | %3s | %9.2f | %7s | %7s | %16.2f | %18.2f |\n' "$([ "$backend" = pg ] && echo PostgreSQL || echo SQLite)" \
    "$(awk -v b="$backend" '$1 == b' "$work/tta" | wc -l)" \
    "$(awk -v b="$backend" '$1 == b {print $2}' "$work/tta" | median)" \
    "$(awk -v b="$backend" '$1 == b {print $2}' "$work/tta" | sort -g | tail -1)" \
    "$(awk -v b="$backend" '$1 == b {print $2}' "$work/tta" | sort -g | head -1)" \
    "$(awk -v b="$backend" '$1 == b {print $3}' "$work/tta" | median)" \
    "$(awk -v b="$backend" '$1 == b {print $4}' "$work/tta" | median)"
done
p99_pg="$(ms "$(column no_match pg 6 | median)")/$(ms "$(column handled pg 6 | median)")"
echo
echo "target: webhook p99 under 10 ms on PostgreSQL (no_match/handled): $p99_pg ms:" \
  "$(awk -v a="$(column no_match pg 6 | median)" -v b="$(column handled pg 6 | median)" 'BEGIN {print (a < 10000 && b < 10000) ? "met" : "NOT met"}')"
echo "done: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg), O_DSYNC 4 KiB write $(dsync_ms) ms"
