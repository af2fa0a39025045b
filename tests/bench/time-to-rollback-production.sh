#!/usr/bin/env bash
# Benchmark: time to rollback on the real stack at PRODUCTION settings (results in docs/time-to-rollback.md).
#
#   tests/bench/time-to-rollback-production.sh [--runs N] [--sizes "0.5 0.05"] [--parallel P]
#                                              [--group-wait DUR] [--rules FILE] [--warmup SECONDS]
#
# Unlike tests/bench/time-to-rollback.sh (scripts/local-stack's demo settings: 1 s intervals, for: 2s,
# 20 s windows), every run here starts a fresh stack on loopback with
#   - Prometheus 2.42: scrape_interval 15s, evaluation_interval 15s, scrape_timeout 10s, and
#     rules/error-rate.rules.yml copied byte for byte (checked with cmp; --rules measures another file);
#   - Alertmanager 0.25: config/alertmanager.yml with the production values of its comments
#     (group_wait 30s, group_interval 5m, repeat_interval 4h) and, on the rollback route,
#     group_wait --group-wait (default 1s, the value config/alertmanager.yml and docs/detection.md recommend);
#   - rollback-receiver with examples/demo-service/receiver.yml (debounce 0s, action
#     examples/demo-service/rollback), and the demo service at 20 requests/s, no errors.
# After --warmup seconds of healthy traffic (default 330: the 5-minute window is full) and a random
# 0-15 s more, a bad version failing a share SIZE of its requests is deployed and recorded
# (examples/demo-service/deploy), and the run ends with the rollback command's first line (bounded:
# 6 minutes). Each run has a new stack and a random start, so where the deployment falls between two
# scrapes, and the phase of rule evaluations against scrapes, differ from run to run.
#
# Per run, seconds after t0, the bad version's first failing request (demo-service log: msg=deployed
# ts=, the simulated failures start then):
#   scrape  the first scrape whose code="500" counter is above 0 (from Prometheus' own samples)
#   fire    the alert's startsAt (rollback_started detail), and which window fired (its label)
#   flush   Alertmanager starts sending the first webhook (debug log msg=flushing, first after fire)
#   cmd     the rollback command's first line (date +%N)
# and per size the median and max of cmd - t0.
#
# Runs RUNS (default 3) per size, P (default 1) stacks at a time; each run takes about 7 minutes and
# little CPU (the stack idles at these intervals). Loopback only, free ports (scripts/lib/free-port.sh),
# every process stopped by its PID. Binaries from $ROLLBACK_BINARY_DIR/bin (default build/bin).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
runs=3
sizes="0.5 0.05"
parallel=1
group_wait=1s
rules="$root/rules/error-rate.rules.yml"
warmup=330
rate=20
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --group-wait) group_wait=$2; shift 2 ;;
    --rules) rules="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
bin="${ROLLBACK_BINARY_DIR:-$root/build}/bin"
for tool in prometheus prometheus-alertmanager amtool curl jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing: run scripts/install-deps.sh" >&2; exit 1; }
done
for binary in rollback-receiver demo-service; do
  [ -x "$bin/$binary" ] || { echo "bench: $bin/$binary missing: build it first" >&2; exit 1; }
done
# shellcheck source=scripts/lib/free-port.sh
source "$root/scripts/lib/free-port.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/ttr-production.XXXXXX")"
echo "bench: runs in $work (kept)" >&2

epoch() { date -u -d "$1" +%s.%N; }

# one_run DIR SIZE: a whole stack, one bad deployment, the row "size t0 scrape fire flush cmd window"
# (absolute epoch seconds) in DIR/row, or the reason in DIR/error. Stops everything it started.
one_run() {
  local dir="$1" size="$2"
  pids=()   # not local: the EXIT trap of the run's subshell reads it
  # shellcheck disable=SC2317 # called through the trap
  stop() {
    local i waited
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
      waited=0
      while kill -0 "${pids[$i]}" 2>/dev/null && [ "$waited" -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
      kill -KILL "${pids[$i]}" 2>/dev/null || true
      wait "${pids[$i]}" 2>/dev/null || true
    done
  }
  trap stop EXIT
  fail() { echo "$*" >"$dir/error"; exit 1; }
  mkdir -p "$dir"/{config/secrets,rules,examples/demo-service,logs,prometheus,alertmanager,receiver}
  (umask 077
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/config/secrets/webhook-token"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/config/secrets/api-token")
  logged_port() {
    local i line
    for ((i = 0; i < 100; i++)); do
      line="$(grep -oE "$2[0-9]+" "$dir/logs/$1.log" 2>/dev/null | head -1 || true)"
      [ -n "$line" ] && { echo "${line##*:}"; return 0; }
      sleep 0.1
    done
    return 1
  }
  ready() { local i; for ((i = 0; i < 300; i++)); do curl -fsS --max-time 2 "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

  "$bin/demo-service" --listen=127.0.0.1:0 --service=demo --version=v1 --rate="$rate" >"$dir/logs/demo-service.log" 2>&1 &
  pids+=($!)
  local demo_port receiver_port am_port prom_port attempt
  demo_port="$(logged_port demo-service 'listening on 127\.0\.0\.1:')" || fail "demo-service did not start"
  export DEMO_SERVICE_URL="http://127.0.0.1:$demo_port" DEMO_ROLLBACK_LOG="$dir/rollbacks.log"
  : >"$DEMO_ROLLBACK_LOG"
  cp "$root/examples/demo-service/receiver.yml" "$root/examples/demo-service/rollback" "$dir/examples/demo-service/"
  "$bin/rollback-receiver" --config.file="$dir/examples/demo-service/receiver.yml" \
    --web.listen-address=127.0.0.1:0 --ledger.path="$dir/receiver/ledger.db" >"$dir/logs/receiver.log" 2>&1 &
  pids+=($!)
  receiver_port="$(logged_port receiver 'msg=listening address=127\.0\.0\.1:')" || fail "the receiver did not start"
  export RECEIVER_URL="http://127.0.0.1:$receiver_port" RECEIVER_API_TOKEN_FILE="$dir/config/secrets/api-token"
  ready "$DEMO_SERVICE_URL/-/healthy" || fail "the demo service is not ready"
  ready "$RECEIVER_URL/-/ready" || fail "the receiver is not ready"

  cp "$rules" "$dir/rules/error-rate.rules.yml"
  cmp -s "$rules" "$dir/rules/error-rate.rules.yml" || fail "rules copy differs"
  for ((attempt = 1; ; attempt++)); do
    am_port="$(free_port)" || fail "no free port"
    prom_port="$(free_port)" || fail "no free port"
    while [ "$prom_port" = "$am_port" ]; do prom_port="$(free_port)"; done
    local addresses=(-e "s/alertmanager:9093/127.0.0.1:$am_port/g" -e "s/receiver:9095/127.0.0.1:$receiver_port/g"
      -e "s/demo-service:8080/127.0.0.1:$demo_port/g" -e "s/prometheus:9090/127.0.0.1:$prom_port/g")
    # Production intervals (the values in config/prometheus.yml's comments).
    sed "${addresses[@]}" -e 's/^\(  scrape_interval:\).*/\1 15s/' -e 's/^\(  evaluation_interval:\).*/\1 15s/' \
      -e 's/^\(  scrape_timeout:\).*/\1 10s/' "$root/config/prometheus.yml" >"$dir/config/prometheus.yml"
    # Production notification timing, and the rollback route's own group_wait.
    sed "${addresses[@]}" -e 's/^\(  group_wait:\).*/\1 30s/' -e 's/^\(  group_interval:\).*/\1 5m/' \
      -e 's/^\(  repeat_interval:\).*/\1 4h/' -e 's/^\(      group_wait:\).*/\1 '"$group_wait"'/' \
      "$root/config/alertmanager.yml" >"$dir/config/alertmanager.yml"
    grep -q "^      group_wait: $group_wait\$" "$dir/config/alertmanager.yml" ||
      sed -i "s/^\(    - receiver: rollback-receiver\)\$/\1\n      group_wait: $group_wait/" "$dir/config/alertmanager.yml"
    amtool check-config "$dir/config/alertmanager.yml" >"$dir/logs/amtool.log" 2>&1 || fail "amtool check-config failed"
    prometheus-alertmanager --config.file="$dir/config/alertmanager.yml" --storage.path="$dir/alertmanager" \
      --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= --log.level=debug >"$dir/logs/alertmanager.log" 2>&1 &
    pids+=($!)
    prometheus --config.file="$dir/config/prometheus.yml" --storage.tsdb.path="$dir/prometheus" \
      --web.listen-address="127.0.0.1:$prom_port" >"$dir/logs/prometheus.log" 2>&1 &
    pids+=($!)
    if ready "http://127.0.0.1:$am_port/-/ready" && ready "http://127.0.0.1:$prom_port/-/ready"; then break; fi
    if [ "$attempt" -lt 5 ] && lost_port_race "$dir/logs/alertmanager.log" "$dir/logs/prometheus.log"; then
      kill -TERM "${pids[-1]}" "${pids[-2]}" 2>/dev/null || true
      wait "${pids[-1]}" "${pids[-2]}" 2>/dev/null || true
      unset 'pids[-1]' 'pids[-2]'
      continue
    fi
    fail "Prometheus or Alertmanager did not start (logs in $dir/logs)"
  done
  local prom="http://127.0.0.1:$prom_port"
  query() { curl -fsS --max-time 5 --get --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} "$prom/api/v1/query"; }

  # Warm-up: healthy traffic until the 5-minute window is full.
  local i
  for ((i = 0; i < 60; i++)); do
    [ "$(query 'up{job="demo-service"}' | jq -r '.data.result[0].value[1] // ""')" = 1 ] && break
    sleep 1
  done
  sleep "$warmup"
  # The warm-up started right after a scrape; a random 0-15 s more puts the deployment at a random
  # point of the scrape interval (without it, every run deploys about 1 s after a scrape).
  sleep "$((RANDOM % 15)).$((RANDOM % 10))"
  [ "$(query 'ALERTS{alertname="HighErrorRate"}' | jq '.data.result | length')" = 0 ] || fail "an alert during the warm-up"

  local id t0 cmd started fire window flush scrape line ts
  id="$("$root/examples/demo-service/deploy" v2 "$size" 2>/dev/null)" || fail "deploy failed"
  for ((i = 0; i < 3600; i++)); do
    grep -q "deployment=$id " "$DEMO_ROLLBACK_LOG" && break
    sleep 0.1
  done
  grep -q "deployment=$id " "$DEMO_ROLLBACK_LOG" || fail "no rollback within 6 minutes"
  t0="$(grep 'msg=deployed service=demo version=v2 ' "$dir/logs/demo-service.log" | tail -1 | sed 's/.* ts=//')"
  cmd="$(epoch "$(grep "deployment=$id " "$DEMO_ROLLBACK_LOG" | head -1 | sed 's/^started=\([^ ]*\) .*/\1/')")"
  started=""
  for ((i = 0; i < 50; i++)); do
    started="$(curl -fsS --max-time 5 -H "Authorization: Bearer $(cat "$RECEIVER_API_TOKEN_FILE")" \
      "$RECEIVER_URL/api/v1/audit?deployment_id=$id" | jq -c '.events[] | select(.event == "rollback_started")' || true)"
    [ -n "$started" ] && break
    sleep 0.1
  done
  [ -n "$started" ] || fail "no rollback_started event"
  fire="$(epoch "$(jq -r '.detail | if type == "string" then fromjson else . end | .startsAt' <<<"$started")")"
  window="$(jq -r '.detail | if type == "string" then fromjson else . end | .labels.window // "-"' <<<"$started")"
  flush=""
  while read -r line; do
    ts="${line#ts=}"
    ts="$(epoch "${ts%% *}")"
    if awk -v a="$ts" -v b="$fire" 'BEGIN {exit !(a >= b - 0.001)}'; then flush="$ts"; break; fi
  done < <(grep 'msg=flushing' "$dir/logs/alertmanager.log" | grep 'rollback=\\"true\\"' | grep '\[active\]' || true)
  [ -n "$flush" ] || flush=nan
  # The first sample of the code="500" counter above 0: the first scrape that saw failures.
  scrape="$(query 'http_requests_total{job="demo-service",code="500"}[10m]' | jq -r \
    '[.data.result[0].values[] | select((.[1] | tonumber) > 0) | .[0]] | min // "nan"')"
  echo "$size $t0 $scrape $fire $flush $cmd $window" >"$dir/row"
}

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}'), alertmanager $(prometheus-alertmanager --version 2>&1 | head -1 | awk '{print $3}'), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "settings: scrape/evaluation 15s/15s, rules $(basename "$rules") unchanged (sha256 $(sha256sum "$rules" | cut -c1-12)), rollback route group_wait $group_wait, demo $rate req/s, warm-up ${warmup}s"

jobs_list=()
for size in $sizes; do
  for ((r = 1; r <= runs; r++)); do jobs_list+=("$size:$r"); done
done
running=()
for job in "${jobs_list[@]}"; do
  size="${job%%:*}"; r="${job##*:}"
  dir="$work/run-$size-$r"
  (one_run "$dir" "$size") >"$work/run-$size-$r.log" 2>&1 &
  running+=($!)
  while [ "${#running[@]}" -ge "$parallel" ]; do
    wait "${running[0]}" || true
    running=("${running[@]:1}")
  done
  sleep 7   # different phases even for stacks started together
done
for pid in "${running[@]}"; do wait "$pid" || true; done

printf '%-5s %-4s %-12s %-10s %-10s %-10s %-10s %-7s\n' size run scrape-t0 fire-t0 flush-t0 cmd-t0 cmd-flush window
for size in $sizes; do
  : >"$work/cmd-$size"
  for ((r = 1; r <= runs; r++)); do
    dir="$work/run-$size-$r"
    if [ ! -f "$dir/row" ]; then echo "$size  $r    FAILED: $(cat "$dir/error" 2>/dev/null || echo unknown)"; continue; fi
    read -r _ t0 scrape fire flush cmd window <"$dir/row"
    awk -v s="$size" -v r="$r" -v t0="$t0" -v sc="$scrape" -v f="$fire" -v fl="$flush" -v c="$cmd" -v w="$window" 'BEGIN {
      printf "%-5s %-4s %-12.3f %-10.3f %-10.3f %-10.3f %-10.3f %-7s\n", s, r, sc - t0, f - t0, fl - t0, c - t0, c - fl, w }'
    awk -v t0="$t0" -v c="$cmd" 'BEGIN { printf "%.3f\n", c - t0 }' >>"$work/cmd-$size"
  done
done
for size in $sizes; do
  sort -g "$work/cmd-$size" | awk -v s="$size" '{ v[NR] = $1 } END {
    if (NR == 0) { print "size " s ": no run succeeded"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "size %s: time to rollback (first failing request -> command) median %.1f s, min %.1f s, max %.1f s, %d runs\n", s, m, v[1], v[NR], NR }'
done
