#!/usr/bin/awk -f
# Generates the two counter series (code="200" and code="500") of http_requests_total, one sample per
# scrape interval, as promtool `values:` strings. Plain POSIX awk (mawk, gawk, busybox): no python needed.
#
# Variables (awk -v):
#   segments  comma-separated "seconds:req_per_s:error_ratio", played one after the other
#             e.g. "1800:20:0.003,600:20:0.05" = 30 min healthy, then 10 min at 5% errors
#   interval  scrape interval in seconds (default 15)
#   seed      random seed (default 1), so every run of the benchmark sees the same data
#   jitter    relative noise of the request count per interval, 0..1 (default 0.1 = +-10%)
#   diurnal   amplitude of a 24 h sine on the request rate, 0..1 (default 0)
#   burst_prob  probability per interval of a burst of extra failed requests (default 0)
#   burst_min, burst_max  size of such a burst (default 5..20)
# Requests per interval: expected = rate * interval * (1 + diurnal*sin) * (1 + jitter*u), u uniform in
# [-1,1]; the fractional part carries over, so 0.05 req/s with jitter 0 is exactly one request every
# 20 s. Each request fails independently with the segment's error ratio (binomial 5xx count).
# Output: line 1 = values of code="200", line 2 = values of code="500", line 3 = number of samples.
BEGIN {
    if (interval == "") interval = 15
    if (seed == "") seed = 1
    if (jitter == "") jitter = 0.1
    if (diurnal == "") diurnal = 0
    if (burst_prob == "") burst_prob = 0
    if (burst_min == "") burst_min = 5
    if (burst_max == "") burst_max = 20
    srand(seed)
    pi = atan2(0, -1)
    ok = 0; err = 0; acc = 0; t = 0; n = 0
    ok_s = "0"; err_s = "0"; n = 1
    nseg = split(segments, seg, ",")
    for (s = 1; s <= nseg; s++) {
        split(seg[s], f, ":")
        steps = int(f[1] / interval); rate = f[2]; ratio = f[3]
        for (i = 0; i < steps; i++) {
            t += interval
            expected = rate * interval * (1 + diurnal * sin(2 * pi * t / 86400)) * (1 + jitter * (2 * rand() - 1))
            acc += expected
            req = int(acc); acc -= req
            fails = 0
            for (r = 0; r < req; r++) if (rand() < ratio) fails++
            if (burst_prob > 0 && rand() < burst_prob) {
                extra = burst_min + int(rand() * (burst_max - burst_min + 1))
                fails += extra; req += extra
            }
            ok += req - fails; err += fails
            ok_s = ok_s " " ok; err_s = err_s " " err; n++
        }
    }
    print ok_s; print err_s; print n
}
