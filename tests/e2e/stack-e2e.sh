#!/usr/bin/env bash
# End-to-end test of the real chain (CTest: stack_e2e): scripts/local-stack --serve runs Prometheus
# 2.42, Alertmanager 0.25, rollback-receiver and the demo service on loopback, with the demo copy of
# the rules (for: 2s, rate window 20s; see scripts/local-stack --help). Then:
#   1. a bad deployment (v2, 50% errors) is rolled back: exactly one rollback command ran, for that
#      deployment, from v2 to v1; the deployment is rolled_back; the demo service runs v1 again; the
#      alert resolves (Prometheus shows it inactive and the receiver received the resolved
#      notification), and in the seconds after that nothing else runs; the trail says
#      rollback_effective (every alert that caused it resolved within the demo's confirm_window, 60s);
#   2. a second bad deployment later (v3) is rolled back again, once, to v1 (Alertmanager repeats the
#      firing alert every 10 s meanwhile: still one command); but an incident no deployment caused
#      starts with it, so the rollback does not fix it: after a reload to confirm_window 5s and a
#      notify: target (a loopback listener the test runs), the trail says rollback_ineffective and
#      the listener receives its message;
#   3. during that incident (the alert already firing), a deployment (v4) is recorded: it is not
#      rolled back; its audit trail says predates_deployment.
# Loopback only; every wait is bounded; the whole test gives up after 170 s.
# Binaries come from $ROLLBACK_BINARY_DIR/bin (CTest sets it; default build/bin). Logs of a failed run
# are kept and their tails printed.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
export ROLLBACK_BINARY_DIR="${ROLLBACK_BINARY_DIR:-$root/build}"
deadline=170
work="$(mktemp -d "${TMPDIR:-/tmp}/stack-e2e.XXXXXX")"
stack_pid=""
chat_pid=""
passed=0
failed=0

teardown() {
  local status=$?
  trap - EXIT
  if [ -n "$chat_pid" ]; then
    kill -TERM "$chat_pid" 2>/dev/null || true
    wait "$chat_pid" 2>/dev/null || true
  fi
  if [ -n "$stack_pid" ]; then
    kill -TERM "$stack_pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 200; i++)); do kill -0 "$stack_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$stack_pid" 2>/dev/null; then
      kill -KILL "$stack_pid" 2>/dev/null || true
      # local-stack could not stop its children: stop them by the PIDs it wrote down.
      # shellcheck disable=SC2086
      [ -n "${STACK_PIDS:-}" ] && kill -KILL $STACK_PIDS 2>/dev/null || true
    fi
    wait "$stack_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
    for log in "$work"/stack/logs/*.log "$work/local-stack.log" "$work/chat.log"; do
      [ -f "$log" ] || continue
      echo "----- last lines of $log" >&2
      tail -15 "$log" >&2
    done
    echo "stack-e2e: logs kept in $work" >&2
    [ "$status" -ne 0 ] || status=1
  else
    rm -rf "$work"
  fi
  echo "stack-e2e: took ${SECONDS}s"
  echo "stack-e2e: $passed passed, $failed failed"
  exit "$status"
}
trap teardown EXIT

fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
  exit 1
}
check() {  # check DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@"; then
    echo "ok   $what (${SECONDS}s)"
    passed=$((passed + 1))
  else
    fail "$what"
  fi
}
# wait_until DESCRIPTION SECONDS COMMAND...: polls every 0.5 s, bounded by SECONDS and the deadline.
wait_until() {
  local what="$1" limit="$2"
  shift 2
  local until=$((SECONDS + limit))
  while true; do
    "$@" >/dev/null 2>&1 && { echo "ok   $what (${SECONDS}s)"; passed=$((passed + 1)); return 0; }
    [ $SECONDS -ge $until ] && fail "$what: not within ${limit}s"
    [ $SECONDS -ge $deadline ] && fail "$what: the test's ${deadline}s are up"
    kill -0 "$stack_pid" 2>/dev/null || fail "$what: the stack stopped (see its logs)"
    sleep 0.5
  done
}

# ------------------------------------------------------------------------------------------ helpers
api() { curl -fsS --max-time 5 -H "Authorization: Bearer $(cat "$RECEIVER_API_TOKEN_FILE")" "$RECEIVER_URL$1"; }
deployment_state() { api "/api/v1/deployments/$1" | jq -r .state; }
state_is() { [ "$(deployment_state "$1")" = "$2" ]; }
audit_count() {  # audit_count DEPLOYMENT EVENT [REASON]
  api "/api/v1/audit?deployment_id=$1&limit=1000" |
    jq --arg e "$2" --arg r "${3:-}" '[.events[] | select(.event == $e and ($r == "" or .reason == $r))] | length'
}
audit_has() { [ "$(audit_count "$@")" -ge 1 ]; }
rollback_lines() { grep -c . "$DEMO_ROLLBACK_LOG" || true; }
rollback_lines_for() { grep -c "deployment=$1 " "$DEMO_ROLLBACK_LOG" || true; }
demo_version() { curl -fsS --max-time 5 "$DEMO_SERVICE_URL/version" | jq -r .version; }
alert_state() {  # the state of HighErrorRate for the demo service in Prometheus: inactive, pending, firing
  curl -fsS --max-time 5 "$PROMETHEUS_URL/api/v1/alerts" |
    jq -r '[.data.alerts[] | select(.labels.alertname == "HighErrorRate" and .labels.service == "demo") | .state] | first // "inactive"'
}
alert_is() { [ "$(alert_state)" = "$1" ]; }
resolved_received() {  # how many resolved alerts the receiver has been sent
  curl -fsS --max-time 5 "$RECEIVER_URL/metrics" |
    awk '/^rollback_receiver_alerts_total\{/ && /reason="resolved"/ {n += $NF} END {print n + 0}'
}
resolved_received_more_than() { [ "$(resolved_received)" -gt "$1" ]; }
error_rate_known() {
  curl -fsS --max-time 5 --get --data-urlencode 'query=endpoint:http_requests:error_rate5m{service="demo"}' \
    "$PROMETHEUS_URL/api/v1/query" | jq -e '.data.result | length == 1' >/dev/null
}
deploy() { "$root/examples/demo-service/deploy" "$@"; }
chat_has() { grep -q "$1" "$work/chat.log" 2>/dev/null; }
reload_receiver() {
  curl -fsS --max-time 5 -X POST -d '' -H "Authorization: Bearer $(cat "$RECEIVER_API_TOKEN_FILE")" \
    "$RECEIVER_URL/-/reload" >/dev/null
}

# A stand-in chat endpoint on loopback for the notify: messages: appends each POST body to chat.log.
cat >"$work/chat.py" <<'PY'
# stack-e2e.sh's chat endpoint: every POST body becomes one line of the log file; the port goes to a file.
import http.server, os, sys
log, port_file = sys.argv[1], sys.argv[2]
class Chat(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(log, "ab") as out:
            out.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Chat)
with open(port_file + ".tmp", "w") as out:
    out.write(str(server.server_port))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
PY

# ------------------------------------------------------------------------------------------- stack
python3 "$work/chat.py" "$work/chat.log" "$work/chat.port" 2>"$work/chat.err" &
chat_pid=$!
"$root/scripts/local-stack" --serve --no-build --dir="$work/stack" >"$work/local-stack.log" 2>&1 &
stack_pid=$!
wait_until "the local stack is up" 60 test -f "$work/stack/ready"
# shellcheck disable=SC1091
source "$work/stack/stack.env"
export DEMO_SERVICE_URL RECEIVER_URL RECEIVER_API_TOKEN_FILE
wait_until "Prometheus records the demo's error rate" 30 error_rate_known

# ------------------------------------------------ 1. a bad deployment is rolled back, exactly once
first="$(deploy v2 0.5)" || fail "deploy v2"
wait_until "deployment 1 ($first) is rolled_back" 45 state_is "$first" rolled_back
check "exactly one rollback command ran" test "$(rollback_lines)" = 1
check "it ran for deployment 1, from v2 to v1" \
  grep -q "deployment=$first from=v2 to=v1\$" "$DEMO_ROLLBACK_LOG"
check "the demo service runs v1 again" test "$(demo_version)" = v1
check "deployment 1's audit: one rollback_started" test "$(audit_count "$first" rollback_started)" = 1
check "deployment 1's audit: one rollback_succeeded" test "$(audit_count "$first" rollback_succeeded)" = 1
resolved_before="$(resolved_received)"
wait_until "the alert resolves in Prometheus after the rollback" 60 alert_is inactive
wait_until "the receiver is sent the resolved alert" 20 resolved_received_more_than "$resolved_before"
sleep 3  # three group_intervals: any late notification would have arrived
check "nothing else ran after the resolve" test "$(rollback_lines)" = 1
check "deployment 1 is still rolled_back, one rollback_started" \
  test "$(deployment_state "$first"):$(audit_count "$first" rollback_started)" = "rolled_back:1"
wait_until "deployment 1's audit: rollback_effective, reason alerts_resolved" 5 \
  audit_has "$first" rollback_effective alerts_resolved
check "deployment 1's audit: one outcome, no rollback_ineffective" \
  test "$(audit_count "$first" rollback_effective):$(audit_count "$first" rollback_ineffective)" = "1:0"

# The next rollback is confirmed over 5 s and notified: the stack's copy of receiver.yml, reloaded.
test -s "$work/chat.port" || fail "the chat listener did not start (see $work/chat.err)"
stack_config="$work/stack/examples/demo-service/receiver.yml"
check "the stack's receiver.yml sets confirm_window once" test "$(grep -c '^    confirm_window: ' "$stack_config")" = 1
sed -i 's/^    confirm_window: .*/    confirm_window: 5s/' "$stack_config"
printf 'notify:\n  - http://127.0.0.1:%s/chat\n' "$(cat "$work/chat.port")" >>"$stack_config"
check "the receiver reloads with confirm_window 5s and the chat listener as notify: target" reload_receiver

# ------------------------------------------ 2. a second bad deployment later is rolled back, once
second="$(deploy v3 0.5)" || fail "deploy v3"
# An incident no deployment caused starts with it: the rollback to v1 will not end the errors.
curl -fsS --max-time 5 -d "" "$DEMO_SERVICE_URL/incident?error_ratio=0.5" >/dev/null
wait_until "deployment 2 ($second) is rolled_back" 45 state_is "$second" rolled_back
check "a second rollback command ran, for deployment 2, from v3 to v1" \
  grep -q "deployment=$second from=v3 to=v1\$" "$DEMO_ROLLBACK_LOG"
# Alertmanager repeats the firing group every repeat_interval (10 s) while the 20 s window drains.
sleep 11
check "Alertmanager's repeats ran nothing more: two commands in all" test "$(rollback_lines)" = 2
check "deployment 2's audit: one rollback_started" test "$(audit_count "$second" rollback_started)" = 1
wait_until "deployment 2's audit: rollback_ineffective, reason still_firing (the incident goes on)" 15 \
  audit_has "$second" rollback_ineffective still_firing
check "deployment 2's audit: no rollback_effective" test "$(audit_count "$second" rollback_effective)" = 0
wait_until "the chat listener received the rollback_ineffective message" 10 chat_has "did not fix it"
check "the message names deployment 2 and the alert still firing" \
  grep -q "did not fix it: still firing 5s after the rollback: HighErrorRate (.*deployment $second" "$work/chat.log"
check "rollback_receiver_rollback_outcomes_total counts one of each" test "$(
  curl -fsS --max-time 5 "$RECEIVER_URL/metrics" | grep '^rollback_receiver_rollback_outcomes_total{' |
    sort | awk '{printf "%s ", $NF}')" = "1 1 "
ctl="$ROLLBACK_BINARY_DIR/bin/rollbackctl"
[ -x "$ctl" ] || fail "$ctl is missing: cmake --build build --target rollbackctl"
"$ctl" --url "$RECEIVER_URL" --token-file "$RECEIVER_API_TOKEN_FILE" deployments --service demo \
  >"$work/deployments.txt" || fail "rollbackctl deployments"
check "rollbackctl deployments shows deployment 1 rolled_back (effective)" \
  grep -q "^$first .* rolled_back (effective)\$" "$work/deployments.txt"
check "rollbackctl deployments shows deployment 2 rolled_back (ineffective)" \
  grep -q "^$second .* rolled_back (ineffective)\$" "$work/deployments.txt"

# ----------------------- 3. an alert already firing before a deployment does not roll it back
wait_until "the incident keeps the alert firing" 30 alert_is firing
third="$(deploy v4)" || fail "deploy v4"
wait_until "deployment 3 ($third) is audited alert_ignored, reason predates_deployment" 30 \
  audit_has "$third" alert_ignored predates_deployment
check "no rollback command ran for deployment 3" test "$(rollback_lines_for "$third")" = 0
check "deployment 3 is still watching" state_is "$third" watching
check "still two rollback commands in all" test "$(rollback_lines)" = 2
check "the demo service still runs v4" test "$(demo_version)" = v4
