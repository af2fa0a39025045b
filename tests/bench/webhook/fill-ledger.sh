#!/usr/bin/env bash
# Fills an empty ledger (created by a stopped rollback-receiver) with COUNT deployments for the webhook benchmark.
#
#   tests/bench/webhook/fill-ledger.sh LEDGER COUNT [SERVICES]      (SERVICES default 1000)
#
# Rows as receiver/ledger/ledger.cpp writes them (schema version 2): deployment i (1..COUNT) belongs to
# service i % SERVICES, named svc-0001 ... and "checkout" for 0 (the service of the benchmark's alerts,
# so its history grows with the ledger), environment prod, kind deploy, ids fill-<i>, version v<n> with
# previous_version v<n-1> (none for a service's first), deployed_at_ns = recorded_at_ns (integer
# nanoseconds since the epoch) one minute apart, ending a minute before now. The last deployment of each
# service is `watching` (and, being older than the watch window, reads as healthy); every earlier one
# `superseded`, as recording the next one made it. Each deployment also gets its deployment_recorded audit
# event (state watching, as it was when recorded; dedupe_key NULL, as the API writes it). No ANALYZE:
# the daemon never runs it, so query plans stay the ones a real ledger gets.
set -euo pipefail

ledger="${1:?usage: fill-ledger.sh LEDGER COUNT [SERVICES]}"
count="${2:?usage: fill-ledger.sh LEDGER COUNT [SERVICES]}"
services="${3:-1000}"
[[ "$count" =~ ^[0-9]+$ && "$services" =~ ^[1-9][0-9]*$ ]] || { echo "fill-ledger: COUNT and SERVICES are numbers" >&2; exit 2; }
[ -f "$ledger" ] || { echo "fill-ledger: $ledger does not exist: start rollback-receiver once on it" >&2; exit 1; }

version="$(sqlite3 "$ledger" 'SELECT COALESCE(MAX(version), 0) FROM schema_migrations')"
# Version 2 made the tables written here; later versions may only add to them (a failing INSERT says so).
[ "$version" -ge 2 ] || { echo "fill-ledger: $ledger has schema version $version, expected 2 or later" >&2; exit 1; }
rows="$(sqlite3 "$ledger" 'SELECT COUNT(*) FROM deployments')"
[ "$rows" = 0 ] || { echo "fill-ledger: $ledger already holds $rows deployments" >&2; exit 1; }

now_ns="$(date +%s%N)"
# One transaction with a rollback journal (new pages go straight into the file, not through the WAL and
# a checkpoint) and a big page cache; the file is back in WAL mode, as the daemon keeps it, at the end.
sqlite3 "$ledger" >/dev/null <<SQL
PRAGMA journal_mode = DELETE;
PRAGMA cache_size = -262144;
PRAGMA foreign_keys = ON;
BEGIN IMMEDIATE;
CREATE TEMP TABLE fill AS
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count)
SELECT i,
       CASE WHEN i % $services = 0 THEN 'checkout' ELSE printf('svc-%04d', i % $services) END AS service,
       (i - 1) / $services AS generation,
       $now_ns - ($count - i + 1) * 60000000000 AS at_ns,
       CASE WHEN i > $count - $services THEN 'watching' ELSE 'superseded' END AS state
FROM n;
INSERT INTO deployments (id, service, environment, version, previous_version, deployed_at_ns, recorded_at_ns,
                         commit_sha, url, actor, kind, state, rollback_of, request_key)
SELECT printf('fill-%07d', i), service, 'prod', printf('v%d', generation),
       CASE WHEN generation = 0 THEN '' ELSE printf('v%d', generation - 1) END, at_ns, at_ns,
       printf('%040x', i), printf('https://ci.example.com/runs/%d', i), 'ci-bot', 'deploy', state, NULL,
       json_object('actor', 'ci-bot', 'commit', printf('%040x', i), 'environment', 'prod',
                   'id', printf('fill-%07d', i), 'service', service,
                   'url', printf('https://ci.example.com/runs/%d', i), 'version', printf('v%d', generation))
FROM fill ORDER BY i;
INSERT INTO audit_events (time_ns, event, service, environment, deployment_id, version, previous_version,
                          alertname, fingerprint, reason, detail, dedupe_key)
SELECT at_ns, 'deployment_recorded', service, 'prod', printf('fill-%07d', i), printf('v%d', generation),
       CASE WHEN generation = 0 THEN '' ELSE printf('v%d', generation - 1) END, '', '',
       CASE WHEN generation = 0 THEN '' ELSE 'previous_version_from_ledger' END,
       json_object('actor', 'ci-bot', 'commit', printf('%040x', i),
                   'state', 'watching',
                   'url', printf('https://ci.example.com/runs/%d', i)),
       NULL
FROM fill ORDER BY i;
DROP TABLE fill;
COMMIT;
PRAGMA journal_mode = WAL;
SQL
