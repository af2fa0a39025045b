#!/usr/bin/env bash
# The on-call page in a real browser (CTest: browser_page): a receiver on loopback with a ledger that holds a
# watched deployment, two rolled-back ones (one fixed, one NOT fixed), one rolled back by an alert whose label
# is <script>alert(1)</script>, and a paused service; headless Chromium loads GET / and the test checks what
# a person reads in the DOM (deployments, states, the red ineffective rollback, the hostile label as text
# and no script) there and on two deployments' pages, then takes a desktop and a phone screenshot of GET /
# and one of a deployment's page into $BROWSER_PAGE_OUT. A fake Prometheus (python3 on loopback) answers the
# deployment page's query_range, so that page shows the chart (inline SVG, under the page's CSP).
# The receiver runs without tokens (allowed on loopback): Chromium cannot send a bearer header by flag, and
# basic auth would put the token in a URL. The page's authentication is tested in test_routes.
# Loopback only; every wait is bounded; the whole test gives up after 100 s.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${ROLLBACK_BINARY_DIR:-$root/build}/bin"
out="${BROWSER_PAGE_OUT:-${ROLLBACK_BINARY_DIR:-$root/build}/browser-page}"
deadline=100
work="$(mktemp -d "${TMPDIR:-/tmp}/browser-page.XXXXXX")"
receiver_pid=""
prometheus_pid=""
passed=0

stop_receiver() {
  [ -n "$receiver_pid" ] || return 0
  kill -TERM "$receiver_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do kill -0 "$receiver_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$receiver_pid" 2>/dev/null || true
  wait "$receiver_pid" 2>/dev/null || true
  receiver_pid=""
}
stop_prometheus() {
  [ -n "$prometheus_pid" ] || return 0
  kill -TERM "$prometheus_pid" 2>/dev/null || true
  wait "$prometheus_pid" 2>/dev/null || true
  prometheus_pid=""
}
teardown() {
  local status=$?
  trap - EXIT
  stop_receiver
  stop_prometheus
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "----- last lines of $log" >&2
      tail -20 "$log" >&2
    done
    echo "browser-page: files kept in $work" >&2
  else
    rm -rf "$work"
  fi
  echo "browser-page: $passed passed, took ${SECONDS}s"
  exit "$status"
}
trap teardown EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() {
  echo "ok   $* (${SECONDS}s)"
  passed=$((passed + 1))
}
# shellcheck source=../../scripts/lib/free-port.sh
source "$root/scripts/lib/free-port.sh"
for tool in chromium curl jq sqlite3 python3; do
  command -v "$tool" >/dev/null || fail "$tool missing: run scripts/install-deps.sh --tests"
done
[ -x "$bin/rollback-receiver" ] || fail "$bin/rollback-receiver missing: build first (scripts/build.sh)"
mkdir -p "$out"
rm -f "$out"/page-desktop.png "$out"/page-phone.png "$out"/page-deployment.png "$out"/*.html

# ------------------------------------------------------------------------------------- the fake Prometheus
# Answers GET /api/v1/query_range with two series over the asked window (error rates that rise, then fall).
cat >"$work/fake-prometheus.py" <<'EOF'
import json, math, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path != "/api/v1/query_range":
            self.send_response(404); self.end_headers(); return
        start, end, step = float(q["start"][0]), float(q["end"][0]), float(q["step"][0])
        times = [start + i * step for i in range(int((end - start) / step) + 1)]
        mid = (start + end) / 2
        def rate(t, top): return top * math.exp(-((t - mid) / (0.15 * (end - start) + 1)) ** 2)
        result = [{"metric": {"endpoint": e, "service": "frontend"},
                   "values": [[t, str(round(rate(t, top), 5))] for t in times]}
                  for e, top in (("/checkout", 0.3), ("<script>alert(1)</script>", 0.12))]
        body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
EOF
prometheus_port="$(free_port)" || fail "no free loopback port"
python3 "$work/fake-prometheus.py" "$prometheus_port" >"$work/prometheus.log" 2>&1 &
prometheus_pid=$!
for ((i = 0; i < 50; i++)); do
  curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$prometheus_port/api/v1/query_range?query=x&start=0&end=60&step=15" \
    2>/dev/null && break
  sleep 0.1
done
ok "fake Prometheus on 127.0.0.1:$prometheus_port"

# ------------------------------------------------------------------------------------- the receiver
mkdir -p "$work/receiver"
ledger="$work/receiver/data/ledger.db"
# start_receiver: on a free loopback port (again elsewhere when another process took it first); sets $url.
start_receiver() {
  local attempt port i
  for ((attempt = 0; attempt < 5; attempt++)); do
    port="$(free_port)" || fail "no free loopback port"
    cat >"$work/receiver/receiver.yml" <<EOF
listen_address: 127.0.0.1:$port
instance: browser-test
ledger: {path: data/ledger.db}
defaults:
  watch_window: 30m
  rollback: {command: ["true"], timeout: 10s, retries: 0}
services:
  checkout: {watch_window: 15m}
prometheus: {url: "http://127.0.0.1:$prometheus_port"}
EOF
    : >"$work/receiver.log"
    "$bin/rollback-receiver" --config.file="$work/receiver/receiver.yml" >>"$work/receiver.log" 2>&1 &
    receiver_pid=$!
    url="http://127.0.0.1:$port"
    for ((i = 0; i < 100; i++)); do
      curl -fsS -m 2 "$url/-/ready" >/dev/null 2>&1 && return 0
      kill -0 "$receiver_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop_receiver
    lost_port_race "$work/receiver.log" || fail "the receiver did not start"
  done
  fail "the receiver lost the race for a port 5 times"
}
post() { # post PATH JSON: the answer's status code must be 2xx
  local code
  code="$(curl -sS -m 5 -o "$work/answer.json" -w '%{http_code}' -XPOST "$url$1" \
    -H 'Content-Type: application/json' --data-binary "$2")"
  [[ "$code" == 2* ]] || fail "POST $1: $code $(cat "$work/answer.json")"
}
state_of() { curl -fsS -m 2 "$url/api/v1/deployments/$1" | jq -r .state; }
wait_for_state() { # wait_for_state ID STATE
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(state_of "$1" 2>/dev/null)" = "$2" ] && return 0
    [ $SECONDS -ge $deadline ] && break
    sleep 0.1
  done
  fail "$1 is $(state_of "$1" 2>/dev/null || echo unknown), not $2"
}
# fire SERVICE ENDPOINT_LABEL SUMMARY VALUE FINGERPRINT: a firing HighErrorRate alert as Alertmanager 0.25 sends it.
fire() {
  local now body
  now="$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
  body="$(jq -n --arg service "$1" --arg endpoint "$2" --arg summary "$3" --arg value "$4" --arg fingerprint "$5" --arg now "$now" '{
    receiver: "rollback", status: "firing", version: "4", groupKey: "{}:{alertname=\"HighErrorRate\"}",
    truncatedAlerts: 0, externalURL: "http://alertmanager.example:9093",
    groupLabels: {alertname: "HighErrorRate"}, commonLabels: {}, commonAnnotations: {},
    alerts: [{status: "firing",
              labels: {alertname: "HighErrorRate", service: $service, endpoint: $endpoint, severity: "page"},
              annotations: {summary: $summary, value: $value},
              startsAt: $now, endsAt: "0001-01-01T00:00:00Z",
              generatorURL: "http://prometheus.example:9090/graph?g0.expr=endpoint%3Ahttp_requests%3Aerror_rate5m+%3E+0.01",
              fingerprint: $fingerprint}]}')"
  post /webhook "$body"
}

start_receiver
ok "receiver listening on $url, without tokens"
post /api/v1/deployments '{"id":"checkout-v2","service":"checkout","environment":"prod","version":"v2.4.0","previous_version":"v2.3.1","actor":"ci"}'
post /api/v1/deployments '{"id":"payments-v7","service":"payments","environment":"prod","version":"v7","previous_version":"v6","commit":"b7e1c2d","actor":"ci"}'
post /api/v1/deployments '{"id":"search-v12","service":"search","environment":"prod","version":"v12","previous_version":"v11","actor":"ci"}'
post /api/v1/deployments '{"id":"frontend-v31","service":"frontend","environment":"prod","version":"v31","previous_version":"v30","actor":"ci"}'
ok "four deployments recorded"
# startsAt must not predate the deployment (rule 5): the alerts fire a moment after.
sleep 0.05
fire payments /pay "payments (prod) /pay: 12.5% of requests failed with 5xx over the last 5 minutes" 0.125 1a2b3c4d5e6f7081
fire search /query "search (prod) /query: 4.1% of requests failed with 5xx over the last 5 minutes" 0.041 2b3c4d5e6f708192
fire frontend "<script>alert(1)</script>" "frontend: <script>alert(1)</script> failed" 0.3 3c4d5e6f708192a3
wait_for_state payments-v7 rolled_back
wait_for_state search-v12 rolled_back
wait_for_state frontend-v31 rolled_back
ok "three rollbacks ran (command: true)"
post /api/v1/services/billing/pause '{"reason":"incident 4711: manual failover in progress","actor":"alice","for":"2h"}'
ok "billing paused through the API"
stop_receiver

# Closing the loop (rollback_effective / rollback_ineffective) is built separately (issue 14); until it is
# on main, the verdicts are seeded into the receiver's own tables with the sqlite3 CLI while it is stopped.
now_ns="$(date +%s%N)"
sqlite3 "$ledger" <<EOF
INSERT INTO audit_events (time_ns, event, service, environment, deployment_id, version, previous_version,
                          alertname, fingerprint, reason, detail, instance)
SELECT $now_ns, 'rollback_ineffective', service, environment, id, version, previous_version, 'HighErrorRate',
       '2b3c4d5e6f708192', 'still_firing', '{}', 'browser-test-seed'
FROM deployments WHERE id = 'search-v12';
INSERT INTO audit_events (time_ns, event, service, environment, deployment_id, version, previous_version,
                          alertname, fingerprint, reason, detail, instance)
SELECT $now_ns, 'rollback_effective', service, environment, id, version, previous_version, 'HighErrorRate',
       '1a2b3c4d5e6f7081', 'resolved', '{}', 'browser-test-seed'
FROM deployments WHERE id = 'payments-v7';
EOF
ok "verdicts seeded: payments fixed, search NOT fixed"
start_receiver
curl -fsS -m 5 -o "$work/page.curl.html" "$url/" || fail "GET / did not answer 200"
ok "receiver restarted; GET / answers 200"

# ------------------------------------------------------------------------------------------ the browser
# chromium [ARGS...]: headless, a throwaway profile, nothing but the receiver to talk to, at most 60 s.
chromium_run() {
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --no-default-browser-check --disable-background-networking --disable-component-update --disable-sync \
    --disable-extensions --hide-scrollbars --user-data-dir="$work/chromium-profile" "$@" 2>>"$work/chromium.log"
}
chromium_run --dump-dom "$url/" >"$out/page.html" || fail "chromium --dump-dom failed"
dom="$out/page.html"
[ -s "$dom" ] || fail "chromium dumped an empty DOM"
ok "chromium loaded the page and dumped its DOM ($(wc -c <"$dom") bytes)"

expect() { # expect WHAT FIXED-STRING: the DOM holds it
  grep -qF -- "$2" "$dom" || fail "$1: the DOM has no $2"
}
expect "the page's sections" "Under watch (1)"
expect "the page's sections" "Recent rollbacks"
expect "the page's sections" "Paused services (1)"
expect "the page's sections" "Recent trail"
expect "the watched deployment" '<a href="/deployments/checkout-v2">checkout-v2</a>'
grep -qE '<strong>1[34] min( [0-9]+ s)? left</strong>' "$dom" || fail "checkout's time left (of its 15m window) is not shown"
expect "the states" '<span class="state state-rolled_back">rolled_back</span>'
expect "the rolled-back versions" "v7 → v6"
expect "the alert's summary" "payments (prod) /pay: 12.5% of requests failed"
expect "the alert's value" '<td data-label="value">0.125</td>'
expect "a link to the alert's source" 'href="http://prometheus.example:9090/graph?g0.expr='
expect "the fixed rollback" '<span class="fixed">fixed</span>'
expect "the ineffective rollback, in red" '<span class="ineffective">NOT fixed</span>'
expect "the ineffective rollback's row" '<tr class="ineffective-row">'
expect "the pause: who, why" '<td data-label="paused by">alice</td><td data-label="why">incident 4711: manual failover in progress</td>'
expect "the hostile label, as text" 'endpoint="&lt;script&gt;alert(1)&lt;/script&gt;"'
ok "the DOM shows the deployments, states, verdicts and pause"
# The ineffective rollback is search's, and its row is the one marked.
grep -F '<tr class="ineffective-row">' "$dom" | grep -qF 'search-v12' ||
  fail "the row marked ineffective is not search-v12's"
# No script element at all: the hostile label stayed text, and the page itself has none.
! grep -qi '<script' "$dom" || fail "the DOM has a <script> element: $(grep -oi '<script[^<]*' "$dom" | head -3)"
ok "the ineffective row is search's; no <script> element in the DOM"

# One deployment's page: its fields, its rollback's verdict and its whole trail, the hostile label still text.
chromium_run --dump-dom "$url/deployments/frontend-v31" >"$out/deployment.html" ||
  fail "chromium --dump-dom of /deployments/frontend-v31 failed"
dom="$out/deployment.html"
expect "the deployment's page" "Deployment <code>frontend-v31</code>"
expect "its state" '<span class="state state-rolled_back">rolled_back</span>'
expect "its whole trail" "oldest first"
expect "its trail's rollback" "rollback_succeeded"
expect "the deployment that put v30 live again" '<dt>restored by</dt><dd><a href="/deployments/'
expect "the hostile label, as text" 'endpoint="&lt;script&gt;alert(1)&lt;/script&gt;"'
expect "the chart of the alert's expression" '<section id="chart-section">'
expect "the chart, drawn inline" '<svg xmlns="http://www.w3.org/2000/svg"'
expect "the chart's lines" '<polyline class="series"'
expect "the chart's markers" '>rollback started '
expect "the chart's legend, escaped" '<code>{endpoint="&lt;script&gt;alert(1)&lt;/script&gt;", service="frontend"}</code>'
! grep -qi '<script' "$dom" || fail "the deployment's DOM has a <script> element"
chromium_run --dump-dom "$url/deployments/search-v12" >"$out/deployment-ineffective.html" ||
  fail "chromium --dump-dom of /deployments/search-v12 failed"
dom="$out/deployment-ineffective.html"
expect "the ineffective rollback's page" '<span class="ineffective">NOT fixed</span>'
ok "the deployment pages show the fields, the verdict and the trail; no <script> element"

chromium_run --screenshot="$out/page-desktop.png" --window-size=1280,900 "$url/" >/dev/null ||
  fail "chromium's desktop screenshot failed"
chromium_run --screenshot="$out/page-phone.png" --window-size=390,844 "$url/" >/dev/null ||
  fail "chromium's phone screenshot failed"
chromium_run --screenshot="$out/page-deployment.png" --window-size=1280,900 "$url/deployments/search-v12" \
  >/dev/null || fail "chromium's screenshot of a deployment's page failed"
for png in page-desktop.png page-phone.png page-deployment.png; do
  [ -s "$out/$png" ] || fail "$out/$png is missing or empty"
  [ "$(head -c 8 "$out/$png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$png is not a PNG"
done
ok "screenshots: $out/page-desktop.png, page-phone.png, page-deployment.png"
