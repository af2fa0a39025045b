#!/usr/bin/env bash
# Benchmark: time to rollback (not a CTest test; results in docs/time-to-rollback.md).
#
#   tests/bench/time-to-rollback.sh [RUNS] [WEBHOOKS]      (defaults 5 and 200)
#
# Part 1, the real stack (scripts/local-stack --serve; STACK_FOR and STACK_RATE_WINDOW as there,
# defaults 2s and 20s; scrape and evaluation interval 1s and group_wait 1s from config/): RUNS times,
# a bad version (50% errors) is deployed and recorded, and the script waits for the rollback and for
# the alert to resolve before the next run. Per run, from the demo service's own log, Alertmanager's
# debug log, the receiver's audit trail and the rollback command's first line:
#   t0     the bad version starts failing        (demo-service log: msg=deployed ... ts=)
#   fire   the alert's startsAt                  (rollback_started detail.startsAt)
#   flush  Alertmanager flushes the group to the receiver, i.e. starts sending the first webhook
#          (msg=flushing, the first after fire; the webhook arrives at or after it)
#   claim  the receiver audits rollback_started  (audit event time, ms)
#   cmd    the rollback command starts           (its first line: started=<date +%N>)
# and prints cmd-t0 (time to rollback), flush-t0 (the stack's own floor: the first webhook) and
# cmd-flush (an upper bound of the receiver's part), with median and max.
#
# Part 2, the receiver alone: a receiver of its own on 127.0.0.1:0 gets WEBHOOKS webhooks, each
# for a fresh deployment, written straight to a TCP socket from bash (the send time is bash's
# $EPOCHREALTIME just before the write, no fork in between); the action is a bash script whose first
# line appends $EPOCHREALTIME. Prints p50, p99 and max of webhook-sent -> command-started.
#
# Binaries from $ROLLBACK_BINARY_DIR/bin (default build/bin). Everything runs on loopback.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${1:-5}"
webhooks="${2:-200}"
export ROLLBACK_BINARY_DIR="${ROLLBACK_BINARY_DIR:-$root/build}"
bin="$ROLLBACK_BINARY_DIR/bin"
work="$(mktemp -d "${TMPDIR:-/tmp}/ttr-bench.XXXXXX")"
stack_pid=""
receiver_pid=""

cleanup() {
  local status=$?
  trap - EXIT
  [ -n "$receiver_pid" ] && { kill -TERM "$receiver_pid" 2>/dev/null || true; wait "$receiver_pid" 2>/dev/null || true; }
  if [ -n "$stack_pid" ]; then
    kill -TERM "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
  fi
  if [ "$status" -eq 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "bench: data kept in $work" >&2; fi
  exit "$status"
}
trap cleanup EXIT
die() { echo "bench: $*" >&2; exit 1; }

# epoch seconds (with fraction) of an RFC 3339 time
epoch() { date -u -d "$1" +%s.%N; }
# stats: reads numbers (seconds), prints "median X max Y" in ms; with p99 when asked
stats() {
  sort -g | awk -v p99="${1:-}" '{v[NR] = $1 * 1000} END {
    if (NR == 0) { print "no data"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    i = int(NR * 0.99 + 0.999999); if (i > NR) i = NR
    if (p99 != "") printf "n=%d  p50 %.1f ms  p99 %.1f ms  max %.1f ms  min %.1f ms\n", NR, m, v[i], v[NR], v[1]
    else printf "n=%d  median %.0f ms  max %.0f ms  min %.0f ms\n", NR, m, v[NR], v[1] }'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}'), alertmanager $(prometheus-alertmanager --version 2>&1 | head -1 | awk '{print $3}')"

# ============================================================================ part 1: the real stack
if [ "$runs" -gt 0 ]; then
  "$root/scripts/local-stack" --serve --no-build --dir="$work/stack" >"$work/local-stack.log" 2>&1 &
  stack_pid=$!
  for ((i = 0; i < 600; i++)); do [ -f "$work/stack/ready" ] && break; sleep 0.1; done
  [ -f "$work/stack/ready" ] || { cat "$work/local-stack.log" >&2; die "the stack did not start"; }
  # shellcheck disable=SC1091
  source "$work/stack/stack.env"
  export DEMO_SERVICE_URL RECEIVER_URL RECEIVER_API_TOKEN_FILE
  api() { curl -fsS --max-time 5 -H "Authorization: Bearer $(cat "$RECEIVER_API_TOKEN_FILE")" "$RECEIVER_URL$1"; }
  quiet() {  # no HighErrorRate in Prometheus and the demo's ratio known and under 1%
    curl -fsS --max-time 5 "$PROMETHEUS_URL/api/v1/alerts" | jq -e '[.data.alerts[] | select(.labels.alertname == "HighErrorRate")] | length == 0' >/dev/null &&
      curl -fsS --max-time 5 --get --data-urlencode 'query=endpoint:http_requests:error_rate5m{service="demo"} < 0.01' \
        "$PROMETHEUS_URL/api/v1/query" | jq -e '.data.result | length == 1' >/dev/null
  }
  echo "stack: scrape_interval 1s, evaluation_interval 1s, for: $STACK_FOR, group_wait 1s, group_interval 1s, rate window $STACK_RATE_WINDOW, demo 200 req/s, bad version 50% errors"
  printf '%-4s %-10s %-10s %-10s %-10s %-12s %-12s\n' run fire-t0 flush-t0 claim-t0 cmd-t0 cmd-flush claim-flush
  : >"$work/rows"
  for ((run = 1; run <= runs; run++)); do
    for ((i = 0; i < 240; i++)); do quiet && break; sleep 0.5; done
    quiet || die "run $run: the previous alert did not resolve"
    sleep 1
    version="v$((run + 10))"
    id="$("$root/examples/demo-service/deploy" "$version" 0.5 2>/dev/null)"
    for ((i = 0; i < 600; i++)); do
      grep -q "deployment=$id " "$DEMO_ROLLBACK_LOG" && [ "$(api "/api/v1/deployments/$id" | jq -r .state)" = rolled_back ] && break
      sleep 0.1
    done
    grep -q "deployment=$id " "$DEMO_ROLLBACK_LOG" || die "run $run: no rollback within 60s"
    t0="$(grep "msg=deployed service=demo version=$version " "$STACK_DIR/logs/demo-service.log" | tail -1 | sed 's/.* ts=//')"
    started="$(api "/api/v1/audit?deployment_id=$id" | jq -c '.events[] | select(.event == "rollback_started")')"
    fire="$(epoch "$(jq -r '.detail | if type == "string" then fromjson else . end | .startsAt' <<<"$started")")"
    claim="$(epoch "$(jq -r .time <<<"$started")")"
    cmd="$(epoch "$(grep "deployment=$id " "$DEMO_ROLLBACK_LOG" | sed 's/^started=\([^ ]*\) .*/\1/')")"
    # The first flush of the rollback route's group at or after the alert fired (ms resolution).
    flush=""
    while read -r line; do
      ts="$(epoch "$(sed 's/^ts=\([^ ]*\) .*/\1/' <<<"$line")")"
      if awk -v a="$ts" -v b="$fire" 'BEGIN {exit !(a >= b - 0.001)}'; then flush="$ts"; break; fi
    done < <(grep 'msg=flushing' "$STACK_DIR/logs/alertmanager.log" | grep 'rollback=\\"true\\"' | grep '\[active\]')
    [ -n "$flush" ] || die "run $run: no Alertmanager flush found after $fire"
    awk -v r="$run" -v t0="$t0" -v f="$fire" -v fl="$flush" -v cl="$claim" -v c="$cmd" 'BEGIN {
      printf "%-4s %-10.3f %-10.3f %-10.3f %-10.3f %-12.3f %-12.3f\n", r, f - t0, fl - t0, cl - t0, c - t0, c - fl, cl - fl
      printf "%f %f %f %f %f\n", c - t0, fl - t0, c - fl, cl - fl, f - t0 >> "'"$work/rows"'" }'
  done
  echo "time to rollback (bad version failing -> command started): $(cut -d' ' -f1 "$work/rows" | stats)"
  echo "stack floor, measured (bad version failing -> first webhook sent): $(cut -d' ' -f2 "$work/rows" | stats)"
  echo "alert fired (startsAt - t0): $(cut -d' ' -f5 "$work/rows" | stats)"
  echo "receiver in the stack (first webhook sent -> command started, upper bound): $(cut -d' ' -f3 "$work/rows" | stats)"
  echo "receiver in the stack (first webhook sent -> rollback_started audited): $(cut -d' ' -f4 "$work/rows" | stats)"
  echo "stack floor, settings: scrape 1s + evaluation 1s + for: $STACK_FOR + group_wait 1s"
  kill -TERM "$stack_pid" 2>/dev/null || true
  wait "$stack_pid" 2>/dev/null || true
  stack_pid=""
fi

# ====================================================================== part 2: the receiver alone
[ "$webhooks" -gt 0 ] || exit 0
mkdir -p "$work/receiver"
cat >"$work/receiver/receiver.yml" <<'EOF'
listen_address: 127.0.0.1:0
ledger: {path: ledger.db}
services:
  bench:
    rollback: {command: [./stamp], retries: 0}
EOF
cat >"$work/receiver/stamp" <<'EOF'
#!/bin/bash
echo "$EPOCHREALTIME $ROLLBACK_DEPLOYMENT_ID" >>"$BENCH_STAMP_LOG"
EOF
chmod +x "$work/receiver/stamp"
export BENCH_STAMP_LOG="$work/receiver/stamps"
: >"$BENCH_STAMP_LOG"
"$bin/rollback-receiver" --config.file="$work/receiver/receiver.yml" --log.level=warn >"$work/receiver/log" 2>&1 &
receiver_pid=$!
for ((i = 0; i < 100; i++)); do
  port="$(grep -oE 'address=127\.0\.0\.1:[0-9]+' "$work/receiver/log" | head -1 | cut -d: -f2 || true)"
  [ -n "$port" ] && break
  sleep 0.1
done
# --log.level=warn hides the "listening" line: fall back to the port the process has open.
if [ -z "$port" ]; then
  kill -TERM "$receiver_pid"; wait "$receiver_pid" || true
  "$bin/rollback-receiver" --config.file="$work/receiver/receiver.yml" >"$work/receiver/log" 2>&1 &
  receiver_pid=$!
  for ((i = 0; i < 100; i++)); do
    port="$(grep -oE 'address=127\.0\.0\.1:[0-9]+' "$work/receiver/log" | head -1 | cut -d: -f2 || true)"
    [ -n "$port" ] && break
    sleep 0.1
  done
fi
[ -n "$port" ] || die "the bench receiver did not start"
template="$(cat "$root/tests/fixtures/alertmanager-0.25/01-firing-one-alert.json")"
: >"$work/receiver/sent"
for ((n = 1; n <= webhooks; n++)); do
  id="bench-$n"
  curl -fsS --max-time 5 -o /dev/null -d "{\"id\":\"$id\",\"service\":\"bench\",\"environment\":\"prod\",\"version\":\"b$n\",\"previous_version\":\"b0\"}" \
    "http://127.0.0.1:$port/api/v1/deployments"
  sleep 0.01
  body="$(jq -c --arg now "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" --arg fp "$(printf '%016x' "$n")" '
    .alerts[0].labels.service = "bench" | .commonLabels.service = "bench" | .groupLabels.service = "bench"
    | .alerts[0].startsAt = $now | .alerts[0].fingerprint = $fp' <<<"$template")"
  request=$'POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: '"${#body}"$'\r\n\r\n'"$body"
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  sent=$EPOCHREALTIME
  printf '%s' "$request" >&3
  read -r -t 5 status_line <&3 || true
  exec 3<&-
  [[ "$status_line" == *" 200 "* ]] || die "webhook $n: $status_line"
  echo "$sent $id" >>"$work/receiver/sent"
  for ((i = 0; i < 500; i++)); do grep -q " $id\$" "$BENCH_STAMP_LOG" && break; sleep 0.01; done
  grep -q " $id\$" "$BENCH_STAMP_LOG" || die "webhook $n: the command did not start within 5s"
done
echo "receiver alone: $webhooks webhooks, each for a new deployment, one connection each (Connection: close)"
curl -fsS --max-time 5 "http://127.0.0.1:$port/api/v1/audit?service=bench&limit=1000" |
  jq -r '.events[] | select(.event == "rollback_started") | "\(.time) \(.deployment_id)"' |
  while read -r time id; do echo "$(epoch "$time") $id"; done >"$work/receiver/claims"
echo "receiver alone (webhook written -> rollback_started audited, ms resolution): $(join -1 2 -2 2 <(sort -k2 "$work/receiver/sent") <(sort -k2 "$work/receiver/claims") | awk '{print $3 - $2}' | stats p99)"
# What starting the same action costs on this machine without the receiver: bash spawns ./stamp.
: >"$work/receiver/spawn"
for ((n = 1; n <= 50; n++)); do
  before=$EPOCHREALTIME
  BENCH_STAMP_LOG="$work/receiver/spawn-stamps" ROLLBACK_DEPLOYMENT_ID=spawn-$n "$work/receiver/stamp"
  echo "$before spawn-$n" >>"$work/receiver/spawn"
done
echo "spawn baseline (bash starts the same action directly, 50 times): $(join -1 2 -2 2 <(sort -k2 "$work/receiver/spawn") <(sort -k2 "$work/receiver/spawn-stamps") | awk '{print $3 - $2}' | stats p99)"
echo "receiver alone (webhook written -> command's first line): $(join -1 2 -2 2 <(sort -k2 "$work/receiver/sent") <(sort -k2 "$BENCH_STAMP_LOG") | awk '{print $3 - $2}' | stats p99)"
