#!/usr/bin/env bash
# End-to-end test of the high-availability stack (CTest: stack_ha_e2e): two receivers on one PostgreSQL ledger.
# On loopback, each on a free port and stopped by its PID: PostgreSQL 15 (initdb in a temporary folder),
# two receivers (instance receiver-a and receiver-b, `ledger.postgres` on the same database,
# claim_lease: 3s), two Alertmanagers 0.25 clustered over gossip that send to both receivers (a copy of
# config/alertmanager-ha.yml), Prometheus 2.42 sending to both Alertmanagers with the demo copy of the
# rules (for: 2s, rate window 20s, as scripts/local-stack makes it), and three demo services, one per
# environment c1, c2, c3 (so no case waits for the previous case's alert to resolve). Each receiver's
# rollback command is a wrapper that appends "<receiver> <deployment id>" to a shared file (who-ran),
# then runs examples/demo-service/rollback. Then:
#   1. a bad deployment (c1) is rolled back exactly once: one who-ran line, rolled_back, one
#      rollback_started, whose `instance` is the receiver in who-ran; the time from recording to the
#      rollback is measured (bound 30 s);
#   2. while the receiver holding the claim (c2) lives, its action running (the wrapper sleeps then),
#      the deployment stays rolling_back past the lease; that receiver is then killed with SIGKILL
#      (and its action, which outlives it): the other receiver marks it rollback_interrupted after the lease and
#      audits rollback_interrupted with instance = itself, reason claim_lease_expired and
#      detail.lost_instance = the killed one; after an Alertmanager repeat nothing ran twice. The killed
#      receiver is started again (same config and port) afterwards;
#   3. one receiver is stopped (SIGTERM) before a bad deployment (c3): the other rolls it back, within
#      case 1's bound plus 2 s; started again afterwards;
#   4. PostgreSQL is stopped (fast shutdown) and started again during webhook traffic to both receivers:
#      while it is away POST /webhook and a deployment record answer 503 with {"error"} within 2 s,
#      /-/ready 503, /-/healthy 200;
#      after it is back both answer 200 again without a restart (within 15 s), and every deployment
#      recorded with a 2xx before the stop is still listed.
# Finally: no deployment's rollback command ran twice over the whole run.
# Every case prints its own "ok"/"FAIL" line and its timings; a failed case does not stop the next ones.
# Loopback only; every wait is bounded; the whole test gives up after 150 s (a run takes about 50 s).
# Every process is started with setpriv --pdeathsig, so none outlives this script even when it is killed.
# Binaries come from $ROLLBACK_BINARY_DIR/bin (CTest sets it; default build/bin). Logs of a failed run
# are kept and their tails printed.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${ROLLBACK_BINARY_DIR:-$root/build}/bin"
deadline=150
bound_case1=30   # seconds from recording a bad deployment to rolled_back (case 1; case 3 gets + margin)
margin_case3=2   # see case 3
lease=3
work="$(mktemp -d "${TMPDIR:-/tmp}/ha-stack.XXXXXX")"
mkdir -p "$work"/{logs,config/secrets,rules,bin,demo-urls,alertmanager-a,alertmanager-b,prometheus,receiver-a,receiver-b}
who_ran="$work/who-ran"
slow_marker="$work/slow-action"
: >"$who_ran"

# shellcheck source=../../scripts/lib/free-port.sh
source "$root/scripts/lib/free-port.sh"
# shellcheck source=lib/postgres.sh
source "$root/tests/e2e/lib/postgres.sh"

passed=0
failed=0
cases_failed=()
declare -A pid=()     # name -> PID of the processes this test started (PostgreSQL: $pg_pid)
declare -A port=()    # name -> its port
used_ports=" "
traffic_pid=""

teardown() {
  local status=$?
  trap - EXIT
  set +e
  [ -n "$traffic_pid" ] && kill "$traffic_pid" 2>/dev/null && wait "$traffic_pid" 2>/dev/null
  local name
  for name in prometheus alertmanager-b alertmanager-a receiver-a receiver-b demo-c1 demo-c2 demo-c3; do
    stop_process "$name" TERM
  done
  pg_stop
  [ -f "$work/slow-action.pid" ] && kill -KILL -- "-$(cat "$work/slow-action.pid")" 2>/dev/null
  if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
    for log in "$work"/logs/*.log; do
      [ -f "$log" ] || continue
      echo "----- last lines of $log" >&2
      tail -15 "$log" >&2
    done
    echo "ha-stack: logs kept in $work" >&2
    [ "$status" -ne 0 ] || status=1
  else
    rm -rf "$work"
  fi
  pg_remove
  echo "ha-stack: took ${SECONDS}s"
  echo "ha-stack: $passed checks passed, $failed failed${cases_failed[*]:+; failed cases: ${cases_failed[*]}}"
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
  exit 1
}
# check DESCRIPTION COMMAND...: one "ok"/"FAIL" line; the status of COMMAND.
check() {
  local what="$1"
  shift
  if "$@"; then
    echo "ok   $what (${SECONDS}s)"
    passed=$((passed + 1))
  else
    echo "FAIL $what (${SECONDS}s)" >&2
    failed=$((failed + 1))
    return 1
  fi
}
# wait_for DESCRIPTION SECONDS COMMAND...: polls every 0.2 s, bounded by SECONDS and the test's deadline;
# one "ok"/"FAIL" line; status 0 or 1.
wait_for() {
  local what="$1" limit="$2"
  shift 2
  local until=$((SECONDS + limit))
  while true; do
    if "$@" >/dev/null 2>&1; then
      echo "ok   $what (${SECONDS}s)"
      passed=$((passed + 1))
      return 0
    fi
    if [ $SECONDS -ge $until ] || [ $SECONDS -ge $deadline ]; then
      if [ $SECONDS -ge $deadline ]; then what="$what: the test's ${deadline}s are up"; else what="$what: not within ${limit}s"; fi
      echo "FAIL $what (${SECONDS}s)" >&2
      failed=$((failed + 1))
      return 1
    fi
    sleep 0.2
  done
}
# The case's ok/FAIL line.
run_case() {  # run_case N DESCRIPTION FUNCTION
  local n="$1" what="$2" started=$SECONDS
  echo "----- case $n: $what"
  if "$3"; then
    echo "ok   case $n: $what (took $((SECONDS - started))s)"
  else
    echo "FAIL case $n: $what (took $((SECONDS - started))s)" >&2
    cases_failed+=("$n")
  fi
}

now_ms() { local t="${EPOCHREALTIME//[.,]/}"; echo $((10#$t / 1000)); }
seconds_of() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }  # milliseconds -> "s.mmm"

# ---------------------------------------------------------------------------------------- processes
pick_port() {  # a free loopback port this test has not handed out yet
  local p i
  for ((i = 0; i < 20; i++)); do
    p="$(free_port)" || return 1
    case "$used_ports" in *" $p "*) continue ;; esac
    used_ports="$used_ports$p "
    echo "$p"
    return 0
  done
  return 1
}
# start_process NAME COMMAND...: in the background, output appended to logs/NAME.log; the process gets
# SIGTERM if this shell dies without its trap (setpriv execs COMMAND: the PID is the process's own).
start_process() {
  local name="$1"
  shift
  echo "=== $(date -u +%H:%M:%S.%N) ha-stack starts $name" >>"$work/logs/$name.log"
  setpriv --pdeathsig TERM -- "$@" >>"$work/logs/$name.log" 2>&1 &
  pid[$name]=$!
}
stop_process() {  # stop_process NAME SIGNAL: at most 10 s, then SIGKILL
  local name="$1" signal="$2" p="${pid[$1]:-}"
  [ -n "$p" ] || return 0
  kill "-$signal" "$p" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  pid[$name]=""
}
alive() { [ -n "${pid[$1]:-}" ] && kill -0 "${pid[$1]}" 2>/dev/null; }
# ready NAME SECONDS URL: polls URL until it answers 2xx (0), NAME exits (1) or time runs out (2).
ready() {
  local name="$1" limit="$2" url="$3" i
  for ((i = 0; i < limit * 10; i++)); do
    curl -fsS --max-time 2 "$url" >/dev/null 2>&1 && return 0
    alive "$name" || return 1
    sleep 0.1
  done
  return 2
}
logged_port() {  # logged_port NAME REGEX-BEFORE-PORT: the port a port-0 process printed in its log
  local i line
  for ((i = 0; i < 100; i++)); do
    line="$(grep -oE "$2[0-9]+" "$work/logs/$1.log" 2>/dev/null | tail -1 || true)"
    [ -n "$line" ] && { echo "${line##*:}"; return 0; }
    sleep 0.1
  done
  return 1
}

# ------------------------------------------------------------------------------------------ helpers
api() {  # api RECEIVER PATH
  curl -fsS --max-time 5 -H "Authorization: Bearer $(cat "$work/config/secrets/api-token")" \
    "http://127.0.0.1:${port[$1]}$2"
}
state_of() { api "$1" "/api/v1/deployments/$2" | jq -r .state; }
state_is() { [ "$(state_of "$1" "$2")" = "$3" ]; }
events() {  # events RECEIVER DEPLOYMENT EVENT: that deployment's audit events of that kind (JSON array)
  api "$1" "/api/v1/audit?deployment_id=$2&limit=1000" | jq -c --arg e "$3" '[.events[] | select(.event == $e)]'
}
event_count() { events "$@" | jq length; }
event_field() {  # event_field RECEIVER DEPLOYMENT EVENT FIELD: FIELD of the first such event
  events "$1" "$2" "$3" | jq -r --arg f "$4" '.[0][$f] // ""'
}
lost_instance() {  # the detail's lost_instance of the deployment's rollback_interrupted event
  events "$1" "$2" rollback_interrupted |
    jq -r '.[0].detail // "" | (if type == "string" then (fromjson? // {}) else . end) | .lost_instance // ""'
}
has_event() { [ "$(event_count "$@")" -ge 1 ]; }
trail() {  # trail RECEIVER DEPLOYMENT: the deployment's audit trail, oldest first, one event a line
  api "$1" "/api/v1/audit?deployment_id=$2&limit=1000" | jq -r '.events | reverse | .[] |
    "      " + ([.time, .event, "instance=" + (.instance // ""), "reason=" + (.reason // "")] | join("  "))'
}
who_ran_lines() { grep -c " $1\$" "$who_ran" || true; }
who_ran_for() { grep " $1\$" "$who_ran" | head -1 | cut -d' ' -f1; }
has_run() { [ "$(who_ran_lines "$1")" -ge 1 ]; }
demo_version() { curl -fsS --max-time 5 "$(cat "$work/demo-urls/$1")/version" | jq -r .version; }
other() { if [ "$1" = receiver-a ]; then echo receiver-b; else echo receiver-a; fi; }
deploy() {  # deploy ENVIRONMENT RECEIVER VERSION RATIO: prints the deployment id
  DEMO_SERVICE_URL="$(cat "$work/demo-urls/$1")" RECEIVER_URL="http://127.0.0.1:${port[$2]}" \
    RECEIVER_API_TOKEN_FILE="$work/config/secrets/api-token" DEPLOY_ENVIRONMENT="$1" \
    DEPLOY_ID="ha-$1-$3-$$" "$root/examples/demo-service/deploy" "$3" "$4" 2>>"$work/logs/deploy.log"
}
body_file="$work/body"  # the last answer's body (the traffic loop has its own)
http_code() {  # http_code METHOD URL [CURL ARGS...]: prints "CODE SECONDS"; the body goes to $body_file
  local method="$1" url="$2"
  shift 2
  curl -sS --max-time 5 -o "$body_file" -w '%{http_code} %{time_total}' -X "$method" "$@" "$url" 2>/dev/null || true
}
webhook_body() {  # webhook_body NAME: a firing alert (its own fingerprint) of a service without deployments
  jq -c --arg n "$1" --arg f "$(printf '%s' "$1" | md5sum | cut -c1-16)" \
    '.alerts[0].labels.service = "ha-traffic" | .alerts[0].labels.environment = "c4"
    | .alerts[0].fingerprint = $f | .alerts[0].labels.n = $n
    | .groupLabels = {service: "ha-traffic", environment: "c4"} | .commonLabels.service = "ha-traffic"
    | .commonLabels.environment = "c4"' \
    "$root/tests/fixtures/alertmanager-0.25/01-firing-one-alert.json"
}
post_webhook() {  # post_webhook RECEIVER N
  webhook_body "$2" >"$body_file.request"
  http_code POST "http://127.0.0.1:${port[$1]}/webhook" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $(cat "$work/config/secrets/webhook-token")" --data-binary "@$body_file.request"
}
error_rate_known() {  # Prometheus has the error rate of every demo environment
  curl -fsS --max-time 5 --get --data-urlencode 'query=endpoint:http_requests:error_rate5m{service="demo"}' \
    "http://127.0.0.1:${port[prometheus]}/api/v1/query" | jq -e '.data.result | length == 3' >/dev/null
}
cluster_formed() {  # both Alertmanagers see two ready peers
  local am
  for am in alertmanager-a alertmanager-b; do
    curl -fsS --max-time 2 "http://127.0.0.1:${port[$am]}/api/v2/status" |
      jq -e '.cluster.status == "ready" and (.cluster.peers | length) == 2' >/dev/null || return 1
  done
}
notifications_received() {  # rollback_receiver_notifications_total of RECEIVER, summed ("" when unknown)
  curl -fsS --max-time 5 "http://127.0.0.1:${port[$1]}/metrics" |
    awk '/^rollback_receiver_notifications_total\{/ {n += $NF} END {print n + 0}'
}
more_notifications_than() { local n; n="$(notifications_received "$1")" && [ "$n" -gt "$2" ]; }

for tool in prometheus prometheus-alertmanager curl jq setpriv; do
  command -v "$tool" >/dev/null || die "$tool missing: run scripts/install-deps.sh --tests"
done
for binary in rollback-receiver demo-service; do
  [ -x "$bin/$binary" ] || die "$bin/$binary missing: build it (scripts/build.sh)"
done

# ------------------------------------------------------------------------------------------ secrets
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/config/secrets/webhook-token"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/config/secrets/api-token"
umask 022

# ---------------------------------------------------------------------------------------- PostgreSQL
pg_init "$work/logs/postgres.log" || die "initdb failed (see $work/logs/postgres.log)"
pg_start_on_a_free_port || die "PostgreSQL did not start (see $work/logs/postgres.log)"
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres rollback >>"$work/logs/postgres.log" 2>&1 ||
  die "createdb rollback failed"
umask 077
echo "host=127.0.0.1 port=$pg_port user=postgres dbname=rollback connect_timeout=2" >"$work/config/secrets/ledger-dsn"
umask 022
echo "ok   PostgreSQL is up on 127.0.0.1:$pg_port (${SECONDS}s)"

# -------------------------------------------------------------------------------------- demo services
for env in c1 c2 c3; do
  start_process "demo-$env" "$bin/demo-service" --listen=127.0.0.1:0 --service=demo --version=v1 --rate=200
  port[demo-$env]="$(logged_port "demo-$env" 'listening on 127\.0\.0\.1:')" || die "demo-$env did not start"
  echo "http://127.0.0.1:${port[demo-$env]}" >"$work/demo-urls/$env"
done

# ------------------------------------------------------------------------------------------ receivers
# The rollback action: who ran it, then the demo's rollback (to the demo service of the alert's
# environment). With the slow marker (case 2) it sleeps 30 s after writing its line; it writes its PID
# (the leader of its own process group: the receiver spawns actions so) for the test to end it.
cat >"$work/bin/rollback" <<EOF
#!/bin/sh
# ha-stack's rollback action: rollback RECEIVER PREVIOUS_VERSION
set -eu
receiver="\$1"
shift
echo "\$receiver \${ROLLBACK_DEPLOYMENT_ID:-?}" >>"$who_ran"
if [ -e "$slow_marker" ]; then
  echo \$\$ >"$work/slow-action.pid"
  sleep 30
fi
DEMO_SERVICE_URL="\$(cat "$work/demo-urls/\${ROLLBACK_ENVIRONMENT:-none}")" DEMO_ROLLBACK_LOG="$work/rollbacks.log" \
  exec "$root/examples/demo-service/rollback" "\$@"
EOF
chmod 0755 "$work/bin/rollback"
for receiver in receiver-a receiver-b; do
  cat >"$work/$receiver/receiver.yml" <<EOF
# ha-stack's $receiver: examples/demo-service/receiver.yml on the shared PostgreSQL ledger.
instance: $receiver
listen_address: 127.0.0.1:0
ledger:
  postgres:
    dsn_file: ../config/secrets/ledger-dsn
    claim_lease: ${lease}s
auth:
  webhook_token_file: ../config/secrets/webhook-token
  api_token_file: ../config/secrets/api-token
defaults:
  watch_window: 10m
  rollback:
    timeout: 30s
    retries: 1
    retry_backoff: 1s
services:
  demo:
    rollback:
      command: [$work/bin/rollback, $receiver, "{{previous_version}}"]
EOF
done
# start_receiver NAME: on port[NAME] (picked on the first start; the same port on a restart, since the
# Alertmanagers' config names it), and waits until /-/ready (15 s).
start_receiver() {
  local name="$1" attempt status
  for ((attempt = 0; attempt < 5; attempt++)); do
    [ -n "${port[$name]:-}" ] || port[$name]="$(pick_port)" || return 1
    start_process "$name" "$bin/rollback-receiver" --config.file="$work/$name/receiver.yml" \
      --web.listen-address="127.0.0.1:${port[$name]}"
    status=0
    ready "$name" 15 "http://127.0.0.1:${port[$name]}/-/ready" || status=$?
    [ "$status" = 0 ] && return 0
    stop_process "$name" KILL
    # A lost port race on the first start: another port (the Alertmanagers are not configured yet).
    [ -z "${am_started:-}" ] && [ "$status" = 1 ] && lost_port_race "$work/logs/$name.log" || return 1
    port[$name]=""
  done
  return 1
}
am_started=""
start_receiver receiver-a || die "receiver-a did not start (see $work/logs/receiver-a.log)"
start_receiver receiver-b || die "receiver-b did not start (see $work/logs/receiver-b.log)"
echo "ok   receiver-a on :${port[receiver-a]}, receiver-b on :${port[receiver-b]}, both ready (${SECONDS}s)"

# ------------------------------------------------------------------------- Alertmanagers, Prometheus
# The demo's copy of the rules, as scripts/local-stack makes it: every `for:` 2s, every [5m] window 20s.
sed -e "s/^\([[:space:]]*for:[[:space:]]*\).*/\12s/" -e "s/\[5m\]/[20s]/g" \
  "$root/rules/error-rate.rules.yml" >"$work/rules/error-rate.rules.yml"
# config/alertmanager-ha.yml with the receivers' loopback addresses (and group_wait 1s, group_interval
# 1s, repeat_interval 10s as shipped, the values stack-e2e runs with).
sed -e "s#receiver-a:9095#127.0.0.1:${port[receiver-a]}#g" -e "s#receiver-b:9095#127.0.0.1:${port[receiver-b]}#g" \
  "$root/config/alertmanager-ha.yml" >"$work/config/alertmanager.yml"
for receiver in receiver-a receiver-b; do
  grep -q "127.0.0.1:${port[$receiver]}/webhook" "$work/config/alertmanager.yml" ||
    die "config/alertmanager-ha.yml no longer names $receiver:9095"
done
am_started=1
for ((attempt = 1; ; attempt++)); do
  for name in alertmanager-a alertmanager-b prometheus cluster-a cluster-b; do
    port[$name]="$(pick_port)" || die "no free port"
  done
  # config/prometheus-ha.yml's settings (1 s scrape and evaluation, both Alertmanagers), scraping the
  # three demo services, one environment each.
  cat >"$work/config/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s}
rule_files: [../rules/error-rate.rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:${port[alertmanager-a]}", "127.0.0.1:${port[alertmanager-b]}"]
scrape_configs:
  - job_name: demo-service
    static_configs:
      - {targets: ["127.0.0.1:${port[demo-c1]}"], labels: {environment: c1}}
      - {targets: ["127.0.0.1:${port[demo-c2]}"], labels: {environment: c2}}
      - {targets: ["127.0.0.1:${port[demo-c3]}"], labels: {environment: c3}}
EOF
  for am in a b; do
    peer=b
    [ "$am" = a ] || peer=a
    # Gossip on loopback; short settle and sync intervals so the cluster forms within seconds.
    start_process "alertmanager-$am" prometheus-alertmanager --config.file="$work/config/alertmanager.yml" \
      --storage.path="$work/alertmanager-$am" --web.listen-address="127.0.0.1:${port[alertmanager-$am]}" \
      --cluster.listen-address="127.0.0.1:${port[cluster-$am]}" \
      --cluster.advertise-address="127.0.0.1:${port[cluster-$am]}" \
      --cluster.peer="127.0.0.1:${port[cluster-$peer]}" --cluster.pushpull-interval=2s \
      --cluster.gossip-interval=100ms --cluster.settle-timeout=3s --cluster.reconnect-interval=1s \
      --log.level=debug
  done
  start_process prometheus prometheus --config.file="$work/config/prometheus.yml" \
    --storage.tsdb.path="$work/prometheus" --web.listen-address="127.0.0.1:${port[prometheus]}"
  readiness=0
  for name in alertmanager-a alertmanager-b prometheus; do
    ready "$name" 30 "http://127.0.0.1:${port[$name]}/-/ready" || { readiness=$?; break; }
  done
  [ "$readiness" = 0 ] && break
  if [ "$readiness" = 1 ] && [ "$attempt" -lt 5 ] &&
    lost_port_race "$work"/logs/alertmanager-?.log "$work/logs/prometheus.log"; then
    echo "ha-stack: a port was taken meanwhile; starting the Alertmanagers and Prometheus again on others" >&2
    for name in prometheus alertmanager-b alertmanager-a; do stop_process "$name" TERM; done
    continue
  fi
  die "an Alertmanager or Prometheus did not start (logs: $work/logs)"
done
wait_for "the two Alertmanagers form a cluster" 20 cluster_formed || die "no Alertmanager cluster"
wait_for "Prometheus records the error rate of the three demo services" 30 error_rate_known ||
  die "no error rate in Prometheus"

# ------------------------------------------------------------------------------------------- cases
case1_ms=""
case1() {
  local id t0 started_ms done_ms runner
  id="$(deploy c1 receiver-a v2 0.5)" || { check "deploy v2 (50% errors) in c1" false; return 1; }
  t0="$(now_ms)"
  echo "     deployment $id recorded with receiver-a"
  wait_for "its rollback command starts" "$bound_case1" has_run "$id" || return 1
  started_ms=$(($(now_ms) - t0))
  wait_for "it is rolled_back" "$bound_case1" state_is receiver-a "$id" rolled_back || return 1
  done_ms=$(($(now_ms) - t0))
  case1_ms="$done_ms"
  runner="$(who_ran_for "$id")"
  echo "     timing: recorded -> command started $(seconds_of "$started_ms")s, -> rolled_back $(seconds_of "$done_ms")s (bound ${bound_case1}s); ran by $runner"
  local ok=0
  check "exactly one rollback command ran in all (who-ran has one line)" test "$(grep -c . "$who_ran")" = 1 || ok=1
  check "the demo service of c1 runs v1 again" test "$(demo_version c1)" = v1 || ok=1
  check "the trail has one rollback_started" test "$(event_count receiver-b "$id" rollback_started)" = 1 || ok=1
  check "rollback_started's instance ($(event_field receiver-b "$id" rollback_started instance)) is the receiver that ran it ($runner)" \
    test "$(event_field receiver-b "$id" rollback_started instance)" = "$runner" || ok=1
  trail receiver-a "$id"
  return $ok
}

case2() {
  local id t0 holder survivor kill_ms marked_ms ok=0 action before
  touch "$slow_marker"
  id="$(deploy c2 receiver-b v2 0.5)" || { check "deploy v2 (50% errors) in c2" false; return 1; }
  t0="$(now_ms)"
  echo "     deployment $id recorded with receiver-b; the action sleeps 30 s in this case"
  wait_for "its rollback command starts" "$bound_case1" has_run "$id" || { rm -f "$slow_marker"; return 1; }
  rm -f "$slow_marker"
  holder="$(who_ran_for "$id")"
  survivor="$(other "$holder")"
  check "it is rolling_back, claimed by $holder" state_is "$survivor" "$id" rolling_back || ok=1
  # While its receiver lives (and renews the claim), the lease must not take it away.
  sleep $((lease + 1))
  check "still rolling_back $((lease + 1)) s later, past the ${lease}s lease, while $holder lives" \
    state_is "$survivor" "$id" rolling_back || ok=1
  check "no rollback_interrupted meanwhile" test "$(event_count "$survivor" "$id" rollback_interrupted)" = 0 || ok=1
  kill -KILL "${pid[$holder]}"
  kill_ms=$(($(now_ms) - t0))
  wait "${pid[$holder]}" 2>/dev/null || true
  pid[$holder]=""
  echo "     $holder killed with SIGKILL $(seconds_of "$kill_ms")s after recording, its action running"
  # The action runs in its own process group: it outlives its receiver. A dead machine takes it along:
  # end it too, so it cannot put v1 live behind the test's back.
  action="$(cat "$work/slow-action.pid" 2>/dev/null || true)"
  if [ -n "$action" ] && kill -0 "$action" 2>/dev/null; then
    echo "     note: the action (PID $action) outlived its receiver's SIGKILL; ending its process group"
    kill -KILL -- "-$action" 2>/dev/null || kill -KILL "$action" 2>/dev/null || true
  fi
  before="$(notifications_received "$survivor")" || before=""
  if wait_for "$survivor marks it rollback_interrupted (lease ${lease}s; 15 s at most)" 15 \
    state_is "$survivor" "$id" rollback_interrupted; then
    marked_ms=$(($(now_ms) - t0 - kill_ms))
    echo "     timing: kill -> rollback_interrupted $(seconds_of "$marked_ms")s (lease ${lease}s)"
  else
    ok=1
  fi
  check "one rollback_interrupted event" test "$(event_count "$survivor" "$id" rollback_interrupted)" = 1 || ok=1
  check "its instance is the survivor, $survivor" \
    test "$(event_field "$survivor" "$id" rollback_interrupted instance)" = "$survivor" || ok=1
  check "its reason is claim_lease_expired" \
    test "$(event_field "$survivor" "$id" rollback_interrupted reason)" = claim_lease_expired || ok=1
  check "its detail names the lost instance, $holder" test "$(lost_instance "$survivor" "$id")" = "$holder" || ok=1
  # The c2 alert keeps firing (the rollback never happened): Alertmanager repeats it every 10 s.
  check "the notifications $survivor received are counted ($before)" test -n "$before" || ok=1
  wait_for "Alertmanager repeats the firing alert to $survivor (12 s at most)" 12 \
    more_notifications_than "$survivor" "${before:-0}" || ok=1
  echo "     $survivor has received $(notifications_received "$survivor") notifications ($before when $holder was killed)"
  sleep 1  # what the repeat started has finished
  check "nothing ran twice: one who-ran line for $id" test "$(who_ran_lines "$id")" = 1 || ok=1
  check "one rollback_started" test "$(event_count "$survivor" "$id" rollback_started)" = 1 || ok=1
  echo "     the trail before $holder is started again:"
  trail "$survivor" "$id"
  start_receiver "$holder" || { check "$holder starts again" false; return 1; }
  echo "ok   $holder started again on :${port[$holder]} (${SECONDS}s)"
  passed=$((passed + 1))
  check "still one who-ran line for $id after the restart" test "$(who_ran_lines "$id")" = 1 || ok=1
  echo "     the trail after the restart (state $(state_of "$survivor" "$id")):"
  trail "$survivor" "$id"
  return $ok
}

case3() {
  local stopped survivor id t0 done_ms ok=0
  stopped="$(who_ran_for "ha-c1-v2-$$")"
  [ -n "$stopped" ] || stopped="receiver-a"
  survivor="$(other "$stopped")"
  stop_process "$stopped" TERM
  check "$stopped stopped (SIGTERM), the one that ran case 1" test -z "${pid[$stopped]}" || return 1
  id="$(deploy c3 "$survivor" v2 0.5)" || { check "deploy v2 (50% errors) in c3" false; start_receiver "$stopped"; return 1; }
  t0="$(now_ms)"
  echo "     deployment $id recorded with $survivor"
  # The margin: Alertmanager sends to each webhook of a receiver in parallel and retries the dead one on
  # its own, so the dead receiver should add nothing; 2 s covers one group_interval (1 s) plus polling.
  if wait_for "$survivor rolls it back (case 1's bound ${bound_case1}s + ${margin_case3}s)" \
    $((bound_case1 + margin_case3)) state_is "$survivor" "$id" rolled_back; then
    done_ms=$(($(now_ms) - t0))
    echo "     timing: recorded -> rolled_back $(seconds_of "$done_ms")s with one receiver down; case 1 (both up): $(seconds_of "${case1_ms:-0}")s"
    check "within case 1's bound + margin ($((bound_case1 + margin_case3)) s)" \
      test "$done_ms" -le $(((bound_case1 + margin_case3) * 1000)) || ok=1
  else
    ok=1
  fi
  check "$survivor ran it, once" test "$(grep " $id\$" "$who_ran")" = "$survivor $id" || ok=1
  echo "     Alertmanager's failed deliveries to $stopped meanwhile: $(grep -h "Notify attempt failed" \
    "$work"/logs/alertmanager-?.log | grep -c "127.0.0.1:${port[$stopped]}/webhook.*connection refused" || true) (log lines, whole run)"
  check "rollback_started's instance is $survivor" \
    test "$(event_field "$survivor" "$id" rollback_started instance)" = "$survivor" || ok=1
  trail "$survivor" "$id"
  start_receiver "$stopped" || { check "$stopped starts again" false; return 1; }
  echo "ok   $stopped started again (${SECONDS}s)"
  passed=$((passed + 1))
  return $ok
}

traffic() {  # POSTs a webhook to each receiver every 0.2 s; one line each: receiver code seconds
  local n=0 r
  body_file="$work/traffic-body"
  while true; do
    for r in receiver-a receiver-b; do
      n=$((n + 1))
      echo "$(now_ms) $r $(post_webhook "$r" "t$n")" >>"$work/traffic.log"
    done
    sleep 0.2
  done
}
both_alive() { alive receiver-a && alive receiver-b; }
both_answer_200() {
  local r
  for r in receiver-a receiver-b; do
    [ "$(post_webhook "$r" "back-$r-$SECONDS" | cut -d' ' -f1)" = 200 ] || return 1
    [ "$(http_code GET "http://127.0.0.1:${port[$r]}/-/ready" | cut -d' ' -f1)" = 200 ] || return 1
  done
}
refused_quickly() {  # refused_quickly CODE SECONDS: 503 within 2 s, the body {"error": "..."}
  [ "$1" = 503 ] && awk -v t="$2" 'BEGIN {exit !(t < 2)}' && jq -e '.error | type == "string"' "$body_file" >/dev/null
}
case4() {
  local ok=0 r i recorded=() answer code took stop_ms back_ms t0 listed missing
  # Deployments recorded with a 2xx before the stop, alternately with each receiver.
  for i in 1 2 3 4; do
    r="receiver-a"
    [ $((i % 2)) = 0 ] && r="receiver-b"
    answer="$(http_code POST "http://127.0.0.1:${port[$r]}/api/v1/deployments" \
      -H "Authorization: Bearer $(cat "$work/config/secrets/api-token")" -H 'Content-Type: application/json' \
      -d "{\"id\":\"ha-c4-$i-$$\",\"service\":\"demo\",\"environment\":\"c4\",\"version\":\"v$i\"}")"
    case "${answer%% *}" in 200 | 201) recorded+=("ha-c4-$i-$$") ;; esac
  done
  check "4 deployments recorded with a 2xx before the stop (${#recorded[@]})" test "${#recorded[@]}" = 4 || ok=1
  : >"$work/traffic.log"
  traffic &
  traffic_pid=$!
  sleep 1
  check "webhook traffic to both receivers answers 200" \
    test "$(awk '$3 == 200 {print $2}' "$work/traffic.log" | sort -u | wc -l)" = 2 || ok=1
  t0="$(now_ms)"
  pg_stop
  stop_ms=$(($(now_ms) - t0))
  echo "     PostgreSQL stopped (fast shutdown, ${stop_ms} ms)"
  for r in receiver-a receiver-b; do
    answer="$(post_webhook "$r" "down-$r")"
    code="${answer%% *}"
    took="${answer#* }"
    check "$r: POST /webhook answers 503 ($code) in ${took}s (< 2 s), with {\"error\"}" \
      refused_quickly "$code" "$took" || ok=1
    check "$r: GET /-/ready answers 503" test "$(http_code GET "http://127.0.0.1:${port[$r]}/-/ready" | cut -d' ' -f1)" = 503 || ok=1
    check "$r: GET /-/healthy answers 200" test "$(http_code GET "http://127.0.0.1:${port[$r]}/-/healthy" | cut -d' ' -f1)" = 200 || ok=1
  done
  answer="$(http_code POST "http://127.0.0.1:${port[receiver-a]}/api/v1/deployments" \
    -H "Authorization: Bearer $(cat "$work/config/secrets/api-token")" -H 'Content-Type: application/json' \
    -d "{\"id\":\"ha-c4-down-$$\",\"service\":\"demo\",\"environment\":\"c4\",\"version\":\"v9\"}")"
  check "receiver-a: recording a deployment (a write) answers 503 (${answer%% *})" \
    refused_quickly "${answer%% *}" "${answer#* }" || ok=1
  sleep 2  # traffic while PostgreSQL is away
  t0="$(now_ms)"
  pg_start || { check "PostgreSQL starts again on :$pg_port" false; return 1; }
  echo "     PostgreSQL started again on :$pg_port after $(($(now_ms) - t0)) ms; down for about 3 s"
  t0="$(now_ms)"
  if wait_for "both receivers answer POST /webhook and /-/ready 200 again, no restart (15 s at most)" 15 both_answer_200; then
    back_ms=$(($(now_ms) - t0))
    echo "     timing: PostgreSQL accepting connections -> both receivers 200: $(seconds_of "$back_ms")s"
  else
    ok=1
  fi
  sleep 0.5
  kill "$traffic_pid" 2>/dev/null
  wait "$traffic_pid" 2>/dev/null || true
  traffic_pid=""
  echo "     webhook traffic: $(awk '{n[$2 " " $3]++} END {for (k in n) printf "%s: %d; ", k, n[k]}' "$work/traffic.log")slowest answer $(awk 'BEGIN {m = 0} $4 > m {m = $4} END {print m}' "$work/traffic.log")s"
  # shellcheck disable=SC2016 # awk's own $3 and $4
  check "every webhook of the traffic was answered 200 or 503, none slower than 2 s" \
    awk '($3 != 200 && $3 != 503) || $4 >= 2 {bad = 1} END {exit bad}' "$work/traffic.log" || ok=1
  # shellcheck disable=SC2016
  check "the traffic saw 503s while PostgreSQL was away" awk '$3 == 503 {n++} END {exit !n}' "$work/traffic.log" || ok=1
  check "both receivers are still the same processes (no restart)" both_alive || ok=1
  for r in receiver-a receiver-b; do
    echo "     $r: $(curl -fsS --max-time 5 "http://127.0.0.1:${port[$r]}/metrics" |
      awk '/^rollback_receiver_http_requests_total\{/ && /code="503"/ {n += $NF} END {print n + 0}') answers 503 counted in rollback_receiver_http_requests_total; warn/error log lines: $(grep -c 'level=warn\|level=error' "$work/logs/$r.log" || true)"
    grep -h 'level=warn\|level=error' "$work/logs/$r.log" | grep -o 'level=[a-z]* msg=\("[^"]*"\|[^ ]*\)' |
      sort | uniq -c | sed 's/^/       /' || true
  done
  for r in receiver-a receiver-b; do
    listed="$(api "$r" "/api/v1/deployments?environment=c4&limit=100" | jq -r '.deployments[].id' || true)"
    missing=""
    for i in "${recorded[@]}"; do grep -qx "$i" <<<"$listed" || missing="$missing $i"; done
    check "$r lists every deployment recorded with a 2xx before the stop${missing:+ (missing:$missing)}" test -z "$missing" || ok=1
  done
  return $ok
}

run_case 1 "a bad deployment is rolled back exactly once, by the receiver the trail names" case1
run_case 2 "the receiver holding the claim is killed: the other marks it rollback_interrupted after the lease" case2
run_case 3 "one receiver stopped: the other rolls back within case 1's bound" case3
run_case 4 "PostgreSQL stopped and started during webhook traffic" case4

echo "----- the whole run"
check "no deployment's rollback command ran twice ($(grep -c . "$who_ran") in all: $(cut -d' ' -f1 "$who_ran" | tr '\n' ' '))" \
  test -z "$(cut -d' ' -f2 "$who_ran" | sort | uniq -d)"
