#!/usr/bin/env bash
# End-to-end test of the receiver's TLS (CTest: e2e_tls) with throwaway certificates from the openssl
# CLI: a test CA, the receiver's certificate for 127.0.0.1, a client certificate for Alertmanager, and a
# stranger's CA and client certificate. Checks:
#   1. with tls.client_ca_file the receiver refuses clients without a certificate, or with one the CA
#      did not sign, and plain HTTP;
#   2. Alertmanager 0.25 delivers over HTTPS with its client certificate (http_config.tls_config, as an
#      operator configures it): a deployment recorded over mTLS (curl), then an alert posted to
#      Alertmanager's API, makes exactly one rollback command run; the deployment is rolled_back;
#   3. rollbackctl talks to an HTTPS receiver (server certificate only) when it trusts the CA
#      (SSL_CERT_FILE), and refuses the unknown certificate with exit 2 and a message that says so.
# Loopback only; every wait is bounded; the whole test gives up after 90 s.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${ROLLBACK_BINARY_DIR:-$root/build}/bin"
deadline=90
work="$(mktemp -d "${TMPDIR:-/tmp}/e2e-tls.XXXXXX")"
pids=()
passed=0

teardown() {
  local status=$?
  trap - EXIT
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "----- last lines of $log" >&2
      tail -20 "$log" >&2
    done
    echo "e2e-tls: logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
  echo "e2e-tls: $passed passed, took ${SECONDS}s"
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
# wait_until DESCRIPTION SECONDS COMMAND...: polls every 0.2 s, bounded by SECONDS and the deadline.
wait_until() {
  local what="$1" limit="$2"
  shift 2
  local until=$((SECONDS + limit))
  while ! "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $until ] && fail "$what: not within ${limit}s"
    [ $SECONDS -ge $deadline ] && fail "$what: the test's ${deadline}s ran out"
    sleep 0.2
  done
  ok "$what"
}
# shellcheck source=../../scripts/lib/free-port.sh
source "$root/scripts/lib/free-port.sh"
for tool in openssl curl jq prometheus-alertmanager; do
  command -v "$tool" >/dev/null || fail "$tool missing: run scripts/install-deps.sh"
done
for program in rollback-receiver rollbackctl; do
  [ -x "$bin/$program" ] || fail "$bin/$program missing: build first (scripts/build.sh)"
done
# start_receiver NAME CONFIG: starts the receiver, sets $port from its "listening" log line.
start_receiver() {
  # The log exists before the first look at it (the background job opens it only once it runs; a sed
  # of a missing file would end the test under set -e and pipefail).
  : >"$work/$1.log"
  "$bin/rollback-receiver" --config.file="$2" >"$work/$1.log" 2>&1 &
  pids+=($!)
  port=""
  local i
  for ((i = 0; i < 100; i++)); do
    port="$(sed -n 's/.*msg=listening address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/$1.log" | head -1)"
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  fail "$1 did not start"
}

# ------------------------------------------------------------------------------------ certificates
certs="$work/certs"
mkdir -p "$certs"
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# sign NAME CA_NAME SUBJECT EXTENSIONS: a certificate for NAME.key signed by CA_NAME
sign() {
  new_key "$certs/$1.key"
  openssl req -new -key "$certs/$1.key" -subj "$3" -out "$certs/$1.csr" 2>/dev/null
  printf '%s\n' "$4" >"$certs/$1.ext"
  openssl x509 -req -in "$certs/$1.csr" -CA "$certs/$2.pem" -CAkey "$certs/$2.key" -CAcreateserial \
    -days 1 -extfile "$certs/$1.ext" -out "$certs/$1.pem" 2>/dev/null
}
self_signed() {
  new_key "$certs/$1.key"
  openssl req -x509 -new -key "$certs/$1.key" -subj "$2" -days 1 -out "$certs/$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
}
self_signed ca "/CN=rollback-receiver test CA"
self_signed stranger-ca "/CN=someone else's CA"
sign receiver ca "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
sign alertmanager ca "/CN=alertmanager" "extendedKeyUsage=clientAuth"
sign intruder stranger-ca "/CN=intruder" "extendedKeyUsage=clientAuth"
ok "throwaway certificates made"

# ------------------------------------------------------------------------------------- the receiver
mkdir -p "$work/receiver"
cat >"$work/receiver/rollback.sh" <<'EOF'
#!/bin/sh
echo "$ROLLBACK_DEPLOYMENT_ID $ROLLBACK_FROM_VERSION $ROLLBACK_TO_VERSION" >>"$(dirname "$0")/runs.txt"
EOF
chmod +x "$work/receiver/rollback.sh"
cat >"$work/receiver/receiver.yml" <<EOF
listen_address: 127.0.0.1:0
ledger: {path: ledger.db}
tls:
  cert_file: ../certs/receiver.pem
  key_file: ../certs/receiver.key
  client_ca_file: ../certs/ca.pem
services:
  checkout:
    rollback: {command: [./rollback.sh]}
EOF
start_receiver receiver "$work/receiver/receiver.yml"
grep -q 'scheme=https client_certificates=required' "$work/receiver.log" || fail "the receiver does not say it serves mTLS"
url="https://127.0.0.1:$port"
with_cert=(--cacert "$certs/ca.pem" --cert "$certs/alertmanager.pem" --key "$certs/alertmanager.key")
ok "receiver serves HTTPS with client certificates required on 127.0.0.1:$port"

# 1. Who gets in.
curl -fsS --max-time 5 "${with_cert[@]}" "$url/-/ready" >/dev/null || fail "a CA-signed client is refused"
ok "a client with a CA-signed certificate is served"
if curl -fsS --max-time 5 --cacert "$certs/ca.pem" "$url/-/ready" >/dev/null 2>&1; then
  fail "a client without a certificate was served"
fi
ok "a client without a certificate is refused"
if curl -fsS --max-time 5 --cacert "$certs/ca.pem" --cert "$certs/intruder.pem" --key "$certs/intruder.key" \
  "$url/-/ready" >/dev/null 2>&1; then
  fail "a client with a stranger's certificate was served"
fi
ok "a client whose certificate another CA signed is refused"
if curl -fsS --max-time 5 --cacert "$certs/stranger-ca.pem" --cert "$certs/alertmanager.pem" \
  --key "$certs/alertmanager.key" "$url/-/ready" >/dev/null 2>&1; then
  fail "a client trusting another CA accepted the receiver's certificate"
fi
ok "the receiver's certificate is refused by a client that trusts another CA"
if curl -fsS --max-time 5 "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
  fail "plain HTTP was answered on the HTTPS port"
fi
ok "plain HTTP gets no answer on the HTTPS port"

# ---------------------------------------------------------------------------------- Alertmanager
cat >"$work/alertmanager.yml" <<EOF
route:
  receiver: rollback
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: rollback
    webhook_configs:
      - url: $url/webhook
        send_resolved: true
        http_config:
          tls_config:
            ca_file: $certs/ca.pem
            cert_file: $certs/alertmanager.pem
            key_file: $certs/alertmanager.key
EOF
# Its port is picked before it starts, so a parallel process can take it first: then start again on
# another, at most 5 times (scripts/lib/free-port.sh).
for ((attempt = 1; ; attempt++)); do
  am_port="$(free_port)" || fail "no free port for Alertmanager"
  prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am-data" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= --log.level=debug \
    >"$work/alertmanager.log" 2>&1 &
  am_pid=$!
  am_url="http://127.0.0.1:$am_port"
  for ((i = 0; i < 50; i++)); do
    kill -0 "$am_pid" 2>/dev/null || break
    curl -fsS --max-time 2 "$am_url/-/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if lost_port_race "$work/alertmanager.log" && [ "$attempt" -lt 5 ]; then
    echo "port $am_port was taken meanwhile; starting Alertmanager again on another" >&2
    kill -KILL "$am_pid" 2>/dev/null || true
    wait "$am_pid" 2>/dev/null || true
    continue
  fi
  pids+=("$am_pid")
  break
done
wait_until "Alertmanager ready on 127.0.0.1:$am_port" 30 curl -fsS --max-time 2 "$am_url/-/ready"

# 2. A deployment, then an alert through Alertmanager.
curl -fsS --max-time 5 "${with_cert[@]}" -H 'Content-Type: application/json' \
  -d '{"id":"deploy-7","service":"checkout","version":"v2","previous_version":"v1"}' \
  "$url/api/v1/deployments" >/dev/null || fail "recording the deployment over mTLS failed"
ok "deployment recorded over mutual TLS"
sleep 1 # the alert must start after the deployment (startsAt has second precision here)
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
curl -fsS --max-time 5 -H 'Content-Type: application/json' \
  -d "[{\"labels\":{\"alertname\":\"HighErrorRate\",\"service\":\"checkout\",\"severity\":\"page\",\"rollback\":\"true\"},\"annotations\":{\"summary\":\"error ratio 50%\"},\"startsAt\":\"$now\"}]" \
  "$am_url/api/v2/alerts" >/dev/null || fail "posting the alert to Alertmanager failed"
ok "alert posted to Alertmanager"
runs="$work/receiver/runs.txt"
wait_until "Alertmanager's https:// notification made the receiver run the rollback" 30 test -s "$runs"
state() {
  curl -fsS --max-time 5 "${with_cert[@]}" "$url/api/v1/deployments/deploy-7" | jq -r .state
}
rolled_back() { [ "$(state)" = rolled_back ]; }
wait_until "deployment rolled_back" 10 rolled_back
[ "$(wc -l <"$runs")" -eq 1 ] || fail "expected one rollback, ran $(wc -l <"$runs")"
[ "$(cat "$runs")" = "deploy-7 v2 v1" ] || fail "the rollback ran with $(cat "$runs")"
ok "exactly one rollback, deploy-7 from v2 to v1 (state $(state))"
if grep -E 'level=(error|warn).*(x509|tls|certificate)' "$work/alertmanager.log"; then
  fail "Alertmanager logged TLS errors"
fi
ok "Alertmanager logged no TLS errors"

# 3. rollbackctl over HTTPS (a receiver with a server certificate only).
mkdir -p "$work/plain-tls"
cat >"$work/plain-tls/receiver.yml" <<EOF
listen_address: 127.0.0.1:0
ledger: {path: ledger.db}
tls: {cert_file: ../certs/receiver.pem, key_file: ../certs/receiver.key}
EOF
start_receiver plain-tls "$work/plain-tls/receiver.yml"
https_url="https://127.0.0.1:$port"
SSL_CERT_FILE="$certs/ca.pem" "$bin/rollbackctl" --url "$https_url" record --service cart --version v9 \
  --id cart-9 >"$work/ctl.out" 2>&1 || fail "rollbackctl record over HTTPS failed: $(cat "$work/ctl.out")"
SSL_CERT_FILE="$certs/ca.pem" "$bin/rollbackctl" --url "$https_url" deployments >"$work/ctl.out" 2>&1 ||
  fail "rollbackctl deployments over HTTPS failed: $(cat "$work/ctl.out")"
grep -q 'cart-9' "$work/ctl.out" || fail "rollbackctl deployments does not list cart-9: $(cat "$work/ctl.out")"
ok "rollbackctl records and lists over HTTPS when it trusts the CA"
set +e
SSL_CERT_FILE="$certs/stranger-ca.pem" "$bin/rollbackctl" --url "$https_url" deployments >"$work/ctl.out" 2>&1
status=$?
set -e
[ "$status" -eq 2 ] || fail "rollbackctl with an untrusted certificate exited $status, expected 2"
grep -qi 'certificate' "$work/ctl.out" || fail "rollbackctl's message does not name the certificate: $(cat "$work/ctl.out")"
ok "rollbackctl refuses the unknown certificate: $(head -1 "$work/ctl.out")"
