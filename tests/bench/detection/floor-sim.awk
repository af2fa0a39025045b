#!/usr/bin/awk -f
# Simulates healthy days of one endpoint to choose HighErrorRate's error floor: on how many days does the 5-minute condition ever hold?
#
# For each simulated day (5760 scrapes of 15 s, `rate` req/s +-10% noise, each request failing with
# probability `ratio`), it slides a 5-minute window of 19 scrape intervals (what rate()[5m] covers
# at a 15 s scrape interval in a real Prometheus) and asks, at every scrape, whether the window has
# more than 1% failed requests AND at least k of them, for each k in `floors`. It prints, per k, the
# number of days on which that happened at least once (an alert at least pending that day).
# Plain POSIX awk, no promtool: the numbers behind docs/detection.md ("The error floor").
#
# Variables (awk -v): rate (req/s), ratio (default 0.003), days (default 30), seed (default 1),
#   floors (comma-separated, default "0,10,15,20,25"; 0 = no floor, the rule before issue 15).
# Example: for r in 1 2 3 4 5 6 7 8 10; do awk -v rate=$r -v days=60 -f tests/bench/detection/floor-sim.awk; done
BEGIN {
    if (ratio == "") ratio = 0.003
    if (days == "") days = 30
    if (seed == "") seed = 1
    if (floors == "") floors = "0,10,15,20,25"
    srand(seed)
    nk = split(floors, K, ",")
    for (d = 1; d <= days; d++) {
        acc = 0; sr = 0; se = 0
        for (i = 0; i < 19; i++) { R[i] = 0; E[i] = 0 }
        for (j = 1; j <= nk; j++) hit[j] = 0
        for (t = 0; t < 5760; t++) {
            acc += rate * 15 * (1 + 0.1 * (2 * rand() - 1)); req = int(acc); acc -= req
            f = 0
            for (q = 0; q < req; q++) if (rand() < ratio) f++
            s = t % 19; sr += req - R[s]; se += f - E[s]; R[s] = req; E[s] = f
            if (t >= 19 && se > 0.01 * sr) for (j = 1; j <= nk; j++) if (se >= K[j]) hit[j] = 1
        }
        for (j = 1; j <= nk; j++) days_hit[j] += hit[j]
    }
    printf "rate=%s req/s, %s errors, %d days:", rate, ratio, days
    for (j = 1; j <= nk; j++) printf "  floor %s: %d", K[j], days_hit[j]
    print ""
}
