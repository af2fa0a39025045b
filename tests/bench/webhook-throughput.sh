#!/usr/bin/env bash
# Benchmark: rollback-receiver's HTTP throughput next to a bare cpp-httplib server (not a CTest test; results in docs/benchmark.md).
#
#   tests/bench/webhook-throughput.sh          (about 13 minutes with the defaults below)
#
# Part "throughput": wrk (BENCH_THREADS=2 threads, BENCH_CONNECTIONS=8 connections, BENCH_DURATION=10s)
# runs three cases against the receiver and, right after each, against tests/bench/webhook/bare_server.cpp
# (the ceiling: same httplib settings, answers 200 to anything), over keep-alive connections (as
# Alertmanager's Go client uses them) and with Connection: close, BENCH_REPEATS=3 times:
#   no_match      POST /webhook, a 10-alert notification (tests/bench/webhook/notification-10-alerts.json,
#                 4.9 KB) for service "search", which has no deployment
#   handled       the same notification for service "checkout", whose deployment this notification
#                 already rolled back once (recorded, fired, waited for rolled_back before the runs)
#   deployments   POST /api/v1/deployments, every request a new deployment with its own id
#                 (tests/bench/webhook/deployments.lua says why)
# Every run starts a fresh server process, so the peak RSS (VmHWM of /proc/PID/status, read when wrk
# ends) is per run; a case keeps its ledger folder across its runs. The receiver gets a config like
# config/receiver.yml (ledger, audit file, both tokens, debounce 0s, action `true`) and
# --log.level=warn. Printed: per case, mode and server the medians of requests/s, p50 and p99 (wrk's
# own percentiles, from its done() callback), the highest peak RSS, and the median of the per-repeat
# ratios receiver/bare (each pair ran back to back).
#
# Part "ledger": ledgers with BENCH_LEDGER_SIZES deployments (default "1000 1000000", spread over
# BENCH_LEDGER_SERVICES=1000 services by tests/bench/webhook/fill-ledger.sh; "checkout" is one of them),
# then (a) the daemon's start-up time, launch to the first 200 from /-/ready (median of 5, and an empty
# ledger for reference); (b) the three cases over keep-alive against each ledger (deployments go to
# services that have history there), plus handled_noenv (the same alerts without the environment label,
# which takes the look-up's other query), receiver only, BENCH_REPEATS times, with the slowdown of each
# ledger against the smallest; (c) the look-up query alone in the sqlite3 CLI, both forms; and
# EXPLAIN QUERY PLAN of the ledger's queries on the largest ledger.
#
# BENCH_PARTS="throughput ledger" picks parts. Binaries: $BUILD_DIR/bin/rollback-receiver (BUILD_DIR
# default build/; configured RelWithDebInfo if new, and built unless BENCH_NO_BUILD=1); the bare server
# is compiled into $BUILD_DIR/bench/. Everything runs on 127.0.0.1, client and servers on the same cores.
# BENCH_KEEP=1 keeps the work folder (logs, ledgers, raw results).
set -euo pipefail
umask 077 # its token files: the receiver refuses ones its group or others may write

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
duration="${BENCH_DURATION:-10s}"
connections="${BENCH_CONNECTIONS:-8}"
threads="${BENCH_THREADS:-2}"
repeats="${BENCH_REPEATS:-3}"
ledger_sizes="${BENCH_LEDGER_SIZES:-1000 1000000}"
ledger_services="${BENCH_LEDGER_SERVICES:-1000}"
parts="${BENCH_PARTS:-throughput ledger}"
startups=5
work="$(mktemp -d "${TMPDIR:-/tmp}/webhook-bench.XXXXXX")"
server_pid=""
port=""

cleanup() {
  local status=$?
  trap - EXIT
  [ -n "$server_pid" ] && stop_server
  if [ "$status" -eq 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "bench: data kept in $work" >&2; fi
  exit "$status"
}
trap cleanup EXIT
die() { echo "bench: $*" >&2; exit 1; }

for tool in wrk curl jq sqlite3 g++ pkg-config; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh --tests installs it)"
done

# ------------------------------------------------------------------------------------------ binaries
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/configure.log" 2>&1 ||
      { tail -30 "$work/configure.log" >&2; die "cmake configure failed"; }
  fi
  cmake --build "$build_dir" -j "$(nproc)" --target rollback-receiver >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log" >&2; die "building rollback-receiver failed"; }
fi
receiver_bin="$build_dir/bin/rollback-receiver"
[ -x "$receiver_bin" ] || die "$receiver_bin does not exist (build it, or set BUILD_DIR)"
mkdir -p "$build_dir/bench"
read -r -a httplib_flags <<<"$(pkg-config --cflags --libs cpp-httplib)"
bare_bin="$build_dir/bench/bare_server"
g++ -std=c++20 -O2 -o "$bare_bin" "$here/webhook/bare_server.cpp" "${httplib_flags[@]}" -pthread ||
  die "building the bare server failed"

# ------------------------------------------------------------------------------------------- helpers
# free_port: a port nobody listens on, below the ephemeral range, so that none of the many client
# sockets of a Connection: close run holds it.
# shellcheck source=../../scripts/lib/free-port.sh
source "$root/scripts/lib/free-port.sh"

# A sleep without a fork: read from a FIFO nobody writes to, with a timeout.
mkfifo "$work/never"
exec {never_fd}<>"$work/never"
nap() { read -r -t "$1" -u "$never_fd" _ || true; }

# 0 when GET /-/ready answers 200; no curl, so polling costs the daemon no CPU for process starts.
probe_ready() {
  local status_line=""
  { exec {probe_fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET /-/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' 1>&"$probe_fd" 2>/dev/null || true
  read -r -t 2 -u "$probe_fd" status_line || true
  exec {probe_fd}<&-
  [[ "$status_line" == *" 200 "* ]]
}

# Waits (at most 10 s) until the server started last answers /-/ready.
wait_ready() {
  local i
  for ((i = 0; i < 5000; i++)); do
    probe_ready && return 0
    kill -0 "$server_pid" 2>/dev/null || return 1
    nap 0.002
  done
  return 1
}

stop_server() {
  local i
  kill -TERM "$server_pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$server_pid" 2>/dev/null || break; nap 0.05; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# Starts the receiver on folder $1 (receiver.yml, ledger.db); sets server_pid, port and started_at.
# Another attempt on another port when the first exits at once (a port taken between probe and bind).
start_receiver() {
  local attempt
  for ((attempt = 1; attempt <= 3; attempt++)); do
    port="$(free_port)" || die "no free port"
    started_at=$EPOCHREALTIME
    "$receiver_bin" --config.file="$1/receiver.yml" --web.listen-address="127.0.0.1:$port" --log.level=warn \
      >>"$1/receiver.log" 2>&1 &
    server_pid=$!
    wait_ready && return 0
    stop_server
  done
  tail -20 "$1/receiver.log" >&2
  die "the receiver in $1 did not become ready"
}

start_bare() {
  local attempt
  for ((attempt = 1; attempt <= 3; attempt++)); do
    port="$(free_port)" || die "no free port"
    "$bare_bin" "$port" >>"$work/bare.log" 2>&1 &
    server_pid=$!
    wait_ready && return 0
    stop_server
  done
  tail -20 "$work/bare.log" >&2
  die "the bare server did not become ready"
}

peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status"; }

api() {  # METHOD PATH [BODY]: the receiver's API with its token
  curl -fsS --max-time 10 -X "$1" -H "Authorization: Bearer $(cat "$api_token_file")" \
    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$port$2"
}

metric_lines() { curl -fsS --max-time 10 "http://127.0.0.1:$port/metrics" | grep -E "^rollback_receiver_($1)" || true; }

# A receiver folder: config like config/receiver.yml, tokens, action `true` (succeeds at once).
make_receiver_dir() {
  mkdir -p "$1"
  printf '%s\n' "$webhook_token" >"$1/webhook-token"
  printf '%s\n' "$api_token" >"$1/api-token"
  cat >"$1/receiver.yml" <<'EOF'
# Benchmark receiver (tests/bench/webhook-throughput.sh): config/receiver.yml with an action that does nothing.
listen_address: 127.0.0.1:0
ledger: {path: ledger.db}
audit: {file: audit.jsonl}
auth:
  webhook_token_file: webhook-token
  api_token_file: api-token
defaults:
  watch_window: 30m
  debounce: 0s
  rollback: {command: ["true"], timeout: 1m, retries: 0}
EOF
}

webhook_token="bench-webhook-$RANDOM$RANDOM"
api_token="bench-api-$RANDOM$RANDOM"
api_token_file="$work/api-token"
printf '%s\n' "$api_token" >"$api_token_file"

# The notification for a service with no deployment: the same alerts for "search".
sed 's/checkout/search/g' "$here/webhook/notification-10-alerts.json" >"$work/no_match.json"

# Records deployment $1 of checkout on the running receiver, sends the notification once (startsAt now,
# so that it counts against the deployment), waits until the deployment is rolled_back, and writes the
# body to $2: sent again, it is a repeat of a notification already acted on.
prepare_handled() {
  local id="$1" body="$2" i state=""
  api POST /api/v1/deployments \
    "{\"id\":\"$id\",\"service\":\"checkout\",\"environment\":\"prod\",\"version\":\"v2\",\"previous_version\":\"v1\"}" >/dev/null
  nap 0.01
  jq -c --arg now "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" '.alerts[].startsAt = $now' \
    "$here/webhook/notification-10-alerts.json" >"$body"
  # The same alerts without an environment label (a setup without environments): another look-up query.
  jq -c 'del(.alerts[].labels.environment, .commonLabels.environment, .groupLabels.environment)' \
    "$body" >"${body%.json}-noenv.json"
  curl -fsS --max-time 10 -o /dev/null -H "Authorization: Bearer $webhook_token" -H 'Content-Type: application/json' \
    --data-binary "@$body" "http://127.0.0.1:$port/webhook"
  for ((i = 0; i < 200; i++)); do
    state="$(api GET "/api/v1/deployments/$id" | jq -r .state)"
    [ "$state" = rolled_back ] && return 0
    nap 0.05
  done
  die "deployment $id is $state, not rolled_back, 10 s after the webhook"
}

# Runs wrk once against the server started last. $1 case, $2 mode (keepalive|close); prints the BENCH line.
run_wrk() {
  local lua token body="" run_tag
  case "$1" in
    no_match) lua=webhook.lua token="$webhook_token" body="$work/no_match.json" ;;
    handled) lua=webhook.lua token="$webhook_token" body="$handled_body" ;;
    handled_noenv) lua=webhook.lua token="$webhook_token" body="${handled_body%.json}-noenv.json" ;;
    deployments) lua=deployments.lua token="$api_token" ;;
  esac
  run_tag="r$RANDOM$RANDOM"
  BENCH_BODY_FILE="$body" BENCH_TOKEN="$token" BENCH_RUN="$run_tag" \
    BENCH_CONNECTION="$([ "$2" = close ] && echo close || echo keep-alive)" \
    wrk -t"$threads" -c"$connections" -d"$duration" --timeout 10s -s "$here/webhook/$lua" \
    "http://127.0.0.1:$port" >"$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; die "wrk failed"; }
  grep '^BENCH ' "$work/wrk.out" || { cat "$work/wrk.out" >&2; die "wrk printed no result"; }
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# One measured run: $1 part, $2 case, $3 mode, $4 server (receiver|bare), $5 repeat, $6 receiver folder.
measure() {
  local line rss errors codes
  if [ "$4" = receiver ]; then start_receiver "$6"; else start_bare; fi
  line="$(run_wrk "$2" "$3")"
  rss="$(peak_rss_kb)"
  errors=$(($(field err_connect "$line") + $(field err_read "$line") + $(field err_write "$line") + $(field err_status "$line") + $(field err_timeout "$line")))
  if [ "$4" = receiver ]; then
    # Every answer must be the case's success (200 webhook, 201 deployment): read the receiver's counters.
    codes="$(metric_lines 'http_requests_total\{handler="/(webhook|api/v1/deployments)"')"
    {
      echo "$1 $2 $3 rep $5: $codes" | tr '\n' ' '
      metric_lines 'alerts_total|deployments_recorded_total' | tr '\n' ' '
      echo
    } >>"$work/metrics.log"
    grep -vqE 'code="(200|201)"' <<<"$codes" && die "$1 $3: the receiver answered other codes: $codes"
    # Every POST /api/v1/deployments must have created a deployment (not a retry or a conflict).
    if [ "$2" = deployments ]; then
      grep -qE 'code="(200|409)"' <<<"$codes" && die "$1 $3: not every request created a deployment: $codes"
    fi
  fi
  stop_server
  [ "$(field err_status "$line")" = 0 ] || die "$1 $2 $3 $4: wrk saw error statuses: $line"
  printf '%s %s %s %s %s %s %s %s %s %s\n' "$1" "$2" "$3" "$4" "$5" "$(field rps "$line")" \
    "$(field p50_us "$line")" "$(field p99_us "$line")" "$rss" "$errors" >>"$work/results"
  printf '  %-14s %-11s %-9s %-8s rep %s: %9s req/s  p50 %6s us  p99 %7s us  peak RSS %6s KiB  socket errors %s  load %s\n' \
    "$1" "$2" "$3" "$4" "$5" "$(field rps "$line")" "$(field p50_us "$line")" "$(field p99_us "$line")" "$rss" "$errors" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
select_column() {  # $1 part $2 case $3 mode $4 server $5 column (6 rps, 7 p50, 8 p99, 9 rss)
  awk -v p="$1" -v c="$2" -v m="$3" -v s="$4" -v k="$5" '$1 == p && $2 == c && $3 == m && $4 == s {print $k}' "$work/results"
}
ms() { awk -v us="$1" 'BEGIN {if (us == "-") print "-"; else printf "%.2f", us / 1000}'; }
mib() { awk -v kb="$1" 'BEGIN {printf "%.1f", kb / 1024}'; }

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), $threads threads, $connections connections, $duration per run, $repeats repeats; receiver $("$receiver_bin" --version 2>&1 | head -1) from $build_dir ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)); body $(wc -c <"$here/webhook/notification-10-alerts.json") bytes, $(jq '.alerts | length' "$here/webhook/notification-10-alerts.json") alerts"
: >"$work/results"
# What one durable SQLite commit costs here at least: ms per 4 KiB write with O_DSYNC in the work folder.
dsync_ms() {
  local seconds
  seconds="$(dd if=/dev/zero of="$work/dsync-probe" bs=4096 count=200 oflag=dsync 2>&1 | tail -1 |
    awk -F', ' '{print $(NF - 1)}' | cut -d' ' -f1)"
  rm -f "$work/dsync-probe"
  awk -v s="$seconds" 'BEGIN {printf "%.2f", s * 1000 / 200}'
}
echo "disk: 200 writes of 4 KiB with O_DSYNC (an fsync each) in ${TMPDIR:-/tmp}: $(dsync_ms) ms each"

# ============================================================================= part 1: throughput
if [[ " $parts " == *" throughput "* ]]; then
  echo
  echo "== throughput: receiver and bare server back to back"
  for c in no_match handled deployments; do make_receiver_dir "$work/throughput-$c"; done
  handled_body="$work/handled.json"
  start_receiver "$work/throughput-handled"
  prepare_handled bench-checkout-1 "$handled_body"
  stop_server
  for ((rep = 1; rep <= repeats; rep++)); do
    for c in no_match handled deployments; do
      for mode in keepalive close; do
        measure throughput "$c" "$mode" receiver "$rep" "$work/throughput-$c"
        measure throughput "$c" "$mode" bare "$rep" ""
      done
    done
  done
  echo
  echo "throughput, medians of $repeats runs (ratio: median of the per-repeat receiver/bare requests/s):"
  printf '| %-11s | %-9s | %-8s | %9s | %8s | %8s | %14s | %13s |\n' case connection server "req/s" "p50 ms" "p99 ms" "peak RSS MiB" "ratio to bare"
  printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------- ----------- ---------- ----------- ---------- ---------- ---------------- ---------------
  for c in no_match handled deployments; do
    for mode in keepalive close; do
      ratio="$(paste <(select_column throughput "$c" "$mode" receiver 6) <(select_column throughput "$c" "$mode" bare 6) |
        awk '{printf "%f\n", $1 / $2}' | median)"
      for server in receiver bare; do
        printf '| %-11s | %-9s | %-8s | %9.0f | %8s | %8s | %14s | %13s |\n' "$c" "$mode" "$server" \
          "$(select_column throughput "$c" "$mode" "$server" 6 | median)" \
          "$(ms "$(select_column throughput "$c" "$mode" "$server" 7 | median)")" \
          "$(ms "$(select_column throughput "$c" "$mode" "$server" 8 | median)")" \
          "$(mib "$(select_column throughput "$c" "$mode" "$server" 9 | sort -g | tail -1)")" \
          "$([ "$server" = receiver ] && awk -v r="$ratio" 'BEGIN {printf "%.1f%%", r * 100}' || echo "")"
      done
    done
  done
  echo "receiver decisions and answers per run (the receiver's own counters): see below"
  sed 's/^/  /' "$work/metrics.log"
fi

# ================================================================================= part 2: ledger
if [[ " $parts " == *" ledger "* ]]; then
  echo
  echo "== ledger size: start-up and look-ups with $(echo "$ledger_sizes" | tr ' ' '/') deployments over $ledger_services services"
  make_receiver_dir "$work/ledger-0"
  for size in $ledger_sizes; do
    make_receiver_dir "$work/ledger-$size"
    start_receiver "$work/ledger-$size"
    stop_server
    fill_start=$EPOCHREALTIME
    "$here/webhook/fill-ledger.sh" "$work/ledger-$size/ledger.db" "$size" "$ledger_services"
    echo "  filled ledger-$size in $(awk -v a="$fill_start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s: $(du -h "$work/ledger-$size/ledger.db" | cut -f1)"
  done
  # (a) start-up: launch to the first 200 from /-/ready, the ledger already created (empty: for reference).
  start_receiver "$work/ledger-0"
  stop_server
  for size in 0 $ledger_sizes; do
    : >"$work/startup-$size"
    for ((i = 1; i <= startups; i++)); do
      start_receiver "$work/ledger-$size"
      awk -v a="$started_at" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f\n", (b - a) * 1000}' >>"$work/startup-$size"
      stop_server
    done
    echo "  start-up with $size deployments: median $(median <"$work/startup-$size") ms (runs: $(tr '\n' ' ' <"$work/startup-$size")ms)"
  done
  # (b) the webhook look-ups against each ledger, keep-alive, receiver only.
  for size in $ledger_sizes; do
    start_receiver "$work/ledger-$size"
    prepare_handled "bench-checkout-$size" "$work/handled-$size.json"
    stop_server
  done
  for ((rep = 1; rep <= repeats; rep++)); do
    for size in $ledger_sizes; do
      handled_body="$work/handled-$size.json"
      measure "ledger-$size" no_match keepalive receiver "$rep" "$work/ledger-$size"
      measure "ledger-$size" handled keepalive receiver "$rep" "$work/ledger-$size"
      measure "ledger-$size" handled_noenv keepalive receiver "$rep" "$work/ledger-$size"
      measure "ledger-$size" deployments keepalive receiver "$rep" "$work/ledger-$size"
    done
  done
  smallest="$(tr ' ' '\n' <<<"$ledger_sizes" | grep . | sort -n | head -1)"
  largest="$(tr ' ' '\n' <<<"$ledger_sizes" | grep . | sort -n | tail -1)"
  echo
  echo "ledger size, keep-alive, medians of $repeats runs (slowdown: smallest ledger's req/s / this ledger's):"
  printf '| %-13s | %-12s | %9s | %8s | %8s | %14s | %10s |\n' case deployments "req/s" "p50 ms" "p99 ms" "peak RSS MiB" slowdown
  printf '|%s|%s|%s|%s|%s|%s|%s|\n' --------------- -------------- ----------- ---------- ---------- ---------------- ------------
  for c in no_match handled handled_noenv deployments; do
    base="$(select_column "ledger-$smallest" "$c" keepalive receiver 6 | median)"
    for size in $ledger_sizes; do
      rps="$(select_column "ledger-$size" "$c" keepalive receiver 6 | median)"
      printf '| %-13s | %12s | %9.0f | %8s | %8s | %14s | %9.2fx |\n' "$c" "$size" "$rps" \
        "$(ms "$(select_column "ledger-$size" "$c" keepalive receiver 7 | median)")" \
        "$(ms "$(select_column "ledger-$size" "$c" keepalive receiver 8 | median)")" \
        "$(mib "$(select_column "ledger-$size" "$c" keepalive receiver 9 | sort -g | tail -1)")" \
        "$(awk -v a="$base" -v b="$rps" 'BEGIN {print a / b}')"
    done
  done
  # (c) the look-up alone: latest_deployment's query (as in receiver/ledger/ledger.cpp, all its columns)
  # over 999 services in one sqlite3 statement (a correlated subquery per row), with and without the
  # environment term; no HTTP, no fsync. A first pass (each service once) warms SQLite's page cache (the
  # default 2 MB, as the daemon has it), as a long-running daemon's is; the second pass (5,000 look-ups,
  # 1,000 when the first took over a second) is timed in CPU seconds (user + sys), which the machine's
  # other load disturbs less than the wall clock.
  echo
  echo "the look-up alone (sqlite3 CLI, latest deployment of svc-0001..svc-0999, warm page cache, CPU time):"
  columns="id, service, environment, version, previous_version, deployed_at_ns, recorded_at_ns, commit_sha, url, actor, kind, state, rollback_of"
  lookup_sql() {  # $1 look-ups, $2 "env" or "noenv"
    local condition=""
    [ "$2" = env ] && condition="AND (environment = 'prod' OR environment = '')"
    printf 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) SELECT count((SELECT json_array(%s) FROM deployments WHERE service = printf(%s, i %% 999 + 1) %s ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1)) FROM n;\n' \
      "$1" "$columns" "'svc-%04d'" "$condition"
  }
  lookup_time_us() {  # $1 ledger file, $2 "env" or "noenv": CPU microseconds per look-up
    local times lookups=5000
    times="$({ echo .timer on; lookup_sql 999 "$2"; } | sqlite3 "$1" | sed -n 's/^Run Time: real \([0-9.]*\).*/\1/p')"
    awk -v t="$times" 'BEGIN {exit !(t > 1)}' && lookups=1000
    times="$({ echo .timer on; lookup_sql 999 "$2"; lookup_sql "$lookups" "$2"; } | sqlite3 "$1" |
      sed -n 's/^Run Time: real [0-9.]* user \([0-9.]*\) sys \([0-9.]*\).*/\1 \2/p' | tail -1)"
    awk -v t="$times" -v n="$lookups" 'BEGIN {split(t, f, " "); printf "%.1f", (f[1] + f[2]) * 1e6 / n}'
  }
  for form in env noenv; do
    base=""
    for size in $ledger_sizes; do
      us="$(lookup_time_us "$work/ledger-$size/ledger.db" "$form")"
      [ -n "$base" ] || base="$us"
      echo "  $([ "$form" = env ] && echo "alert with environment label   " || echo "alert without environment label") $size deployments: $us us per look-up ($(awk -v a="$us" -v b="$base" 'BEGIN {printf "%.2f", a / b}')x the smallest ledger)"
    done
  done

  echo
  echo "EXPLAIN QUERY PLAN on ledger-$largest (queries as in receiver/ledger/ledger.cpp):"
  explain() {
    echo "  $1"
    sqlite3 "$work/ledger-$largest/ledger.db" "EXPLAIN QUERY PLAN $2" | sed 's/^/      /'
  }
  explain "latest_deployment, alert with an environment label (the webhook's look-up):" \
    "SELECT $columns FROM deployments WHERE service = 'checkout' AND (environment = 'prod' OR environment = '') ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1"
  explain "latest_deployment, alert without an environment label:" \
    "SELECT $columns FROM deployments WHERE service = 'checkout' ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1"
  explain "service_pause:" "SELECT service, reason, actor, paused_at_ns, until_ns FROM service_pauses WHERE service = 'checkout'"
  explain "append's de-duplication (the UNIQUE dedupe_key that ON CONFLICT DO NOTHING checks):" \
    "SELECT 1 FROM audit_events WHERE dedupe_key = 'k'"
  explain "supersede_around (POST /api/v1/deployments): earlier watching deployments of the service:" \
    "SELECT id FROM deployments WHERE service = 'checkout' AND environment = 'prod' AND state = 'watching' AND deployed_at_ns <= 9000000000000000000 ORDER BY seq"
  explain "interrupt_lost_claims (start-up sweep):" "SELECT $columns, claimed_by, claim_renewed_at_ns FROM deployments WHERE state = 'rolling_back' AND claim_token <> 't' AND claim_renewed_at_ns < 9000000000000000000 ORDER BY seq"
fi
echo
echo "done: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg), O_DSYNC 4 KiB write $(dsync_ms) ms"
