-- wrk script for tests/bench/webhook-throughput.sh: POSTs one Alertmanager notification to /webhook, again and again.
--
-- Environment: BENCH_BODY_FILE (the JSON body, sent as is), BENCH_TOKEN (sent as Authorization: Bearer,
-- as Alertmanager's http_config.authorization does; empty: no header), BENCH_CONNECTION ("close" adds
-- Connection: close, so every request opens a new connection; otherwise keep-alive).
-- done() prints one parseable line.

local body_file = assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE is not set")
local file = assert(io.open(body_file, "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.path = "/webhook"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "Alertmanager/0.25.0"
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if os.getenv("BENCH_CONNECTION") == "close" then wrk.headers["Connection"] = "close" end

-- The same request every time: build it once (wrk sends the cached request when request() is absent).

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
            "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
        summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
