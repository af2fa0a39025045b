-- wrk script for tests/bench/webhook-throughput.sh: POST /api/v1/deployments, each request a new deployment.
--
-- Every request carries its own id, "bench-<run>-<thread>-<n>", as CI does (rollbackctl record --id
-- "$CI_RUN_ID"): so each one is a new deployment (201), never a retry (200) or a conflict (409), without
-- leaning on the receiver's random id suffix. Services rotate over BENCH_SERVICES names (default 20:
-- svc-0001 ... svc-0020, which tests/bench/webhook/fill-ledger.sh also fills), so in the steady state
-- each deployment supersedes the previous one of its service, as in real CI.
-- Environment: BENCH_RUN (a tag unique per run, so that ids never repeat across runs on one ledger),
-- BENCH_TOKEN, BENCH_CONNECTION as in webhook.lua. done() prints one parseable line.

local counter = 0
local threads = 0

-- Runs in the main Lua state; thread:set makes `thread_number` a global of that thread's own state (so
-- it must not be declared local here).
function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
end

local run = os.getenv("BENCH_RUN") or tostring(os.time())
local services = tonumber(os.getenv("BENCH_SERVICES") or "20")
local headers = {["Content-Type"] = "application/json", ["User-Agent"] = "rollbackctl"}
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then headers["Authorization"] = "Bearer " .. token end
if os.getenv("BENCH_CONNECTION") == "close" then headers["Connection"] = "close" end

function request()
    counter = counter + 1
    local n = counter
    local body = string.format(
        '{"id":"bench-%s-%d-%d","service":"svc-%04d","environment":"prod","version":"v%d.%d",' ..
            '"commit":"%040x","url":"https://ci.example.com/runs/%d","actor":"ci-bot"}',
        run, thread_number or 0, n, n % services + 1, thread_number or 0, n, n, n)
    return wrk.format("POST", "/api/v1/deployments", headers, body)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
            "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
        summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
