#!/usr/bin/env bash
# Detection-quality benchmark for rules/error-rate.rules.yml (alert HighErrorRate). NOT a CI test:
# it takes about a minute and prints a Markdown report for docs/detection.md.
#
# It generates promtool unit-test files (15 s scrape interval, evaluation_interval 15s, noisy data from
# tests/bench/detection/gen-series.awk with fixed seeds) and MEASURES, for each `for:` value:
#   - time to fire of a 5% and a 50% error spike at 20 req/s on top of 0.3% background errors:
#     the first evaluation at which HighErrorRate is firing, counted from the start of the spike
#     (linear scan over evaluation times, 15 s apart, one promtool run per candidate time);
#     required: 5% within 3 min, 50% within 2 min;
#   - false positives over 24 h of healthy traffic (20 req/s +-50% daily cycle, +-10% noise, 0.3%
#     binomial errors, rare bursts of 5-20 failed requests): evaluations pending or firing, and the
#     highest 5-minute error ratio seen; required: never fires;
#   - false positives over 24 h of very low traffic (one request every 20 s, 20% of them failing);
#   - flaps: firing episodes over 24 h of a service living just under the threshold (0.8% errors at
#     20 req/s), and whether a 30 s blip of 20% errors (about 120 failed requests, a bad rolling restart)
#     fires. These show what `for:` buys and what it does not.
#
# Usage: tests/bench/detection-quality.sh [--rules FILE] [--for "0s 1m 2m"] [--seeds N] [--keep]
#   --rules  rule file to measure (default rules/error-rate.rules.yml); its `for:` is the "shipped" one
#   --for    `for:` values to compare (default "0s 30s 1m 90s 2m" plus the shipped value)
#   --seeds  random seeds per scenario (default 3); spikes report min/median/max over the seeds
#   --keep   keep the generated files (their folder is printed)
# Needs: bash, awk (any POSIX awk), promtool (Debian package prometheus). Exit status 1 if the shipped
# `for:` misses a requirement.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rules="$root/rules/error-rate.rules.yml"
for_values="0s 30s 1m 90s 2m"
seeds=3
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rules) rules=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
        --for) for_values=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
promtool=$(command -v promtool || true)
[ -n "$promtool" ] || { echo "promtool missing: install the Debian package prometheus" >&2; exit 1; }
gen="$here/detection/gen-series.awk"

shipped_for=$(awk '/^[[:space:]]*for:/ { print $2; exit }' "$rules")
case " $for_values " in *" $shipped_for "*) ;; *) for_values="$for_values $shipped_for" ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/detection-quality.XXXXXX")
if [ "$keep" = 1 ]; then echo "generated files kept in $work" >&2; else trap 'rm -rf "$work"' EXIT; fi

interval=15                 # scrape interval and evaluation interval, seconds
warmup=1800                 # healthy traffic before a spike, seconds
rps=20                      # requests per second in the spike scenarios
base_ratio=0.003            # background 5xx ratio
labels='service="checkout",environment="production",endpoint="/pay"'

# Copy of the rule file with `for:` replaced (the rule file has exactly one `for:` line).
rules_for() {
    local f="$work/rules-for-$1.yml"
    [ -f "$f" ] || sed "s/^\([[:space:]]*for:\).*/\1 $1/" "$rules" > "$f"
    echo "$f"
}

# write_header OUT RULES SERIESFILE: test-file header with the two generated series.
write_header() {
    {
        echo "rule_files: [\"$2\"]"
        echo "evaluation_interval: ${interval}s"
        echo "tests:"
        echo "  - interval: ${interval}s"
        echo "    input_series:"
        echo "      - series: 'http_requests_total{$labels,code=\"200\"}'"
        echo "        values: '$(sed -n 1p "$3")'"
        echo "      - series: 'http_requests_total{$labels,code=\"500\"}'"
        echo "        values: '$(sed -n 2p "$3")'"
        echo "    promql_expr_test:"
    } > "$1"
}

# holds RULES SERIES EXPR EVAL_SECONDS: true if EXPR returns exactly {} 1 at EVAL_SECONDS.
holds() {
    local f="$work/holds.test.yml"
    write_header "$f" "$1" "$2"
    printf '      - expr: %s\n        eval_time: %ss\n        exp_samples: [{labels: "{}", value: 1}]\n' \
        "$3" "$4" >> "$f"
    "$promtool" test rules "$f" > /dev/null 2>&1
}

# values_of RULES SERIES EVAL_SECONDS EXPR...: the values of one-series EXPRs in one promtool run
# (promtool prints what it got when an expectation, deliberately impossible here, fails); "none" for
# an empty result.
values_of() {
    local f="$work/value.test.yml" rules=$1 series=$2 at=$3 e
    shift 3
    write_header "$f" "$rules" "$series"
    for e in "$@"; do
        printf '      - expr: %s\n        eval_time: %ss\n        exp_samples: [{labels: "{}", value: -12345}]\n' \
            "$e" "$at" >> "$f"
    done
    "$promtool" test rules "$f" 2>&1 | awk '
        /got:/ { v = $NF; printf "%s ", (v == "nil" || v == "got:") ? "none" : sprintf("%.6g", v) }
        END { print "" }'
}

fmt_dur() { # seconds -> 2m15s
    local s=$1
    if [ "$s" -ge 60 ]; then
        if [ $((s % 60)) -eq 0 ]; then echo "$((s / 60))m"; else echo "$((s / 60))m$((s % 60))s"; fi
    else echo "${s}s"; fi
}

any_alert='ALERTS{alertname="HighErrorRate"}'
firing='ALERTS{alertname="HighErrorRate",alertstate="firing"}'

# spike RULES RATIO SEED: prints "PENDING_AFTER FIRING_AFTER WARMUP_CLEAN" in seconds after the spike
# start ("-" if not within 10 minutes).
spike() {
    local series="$work/spike-$2-$3.txt" t pend=- fire=- clean=yes limit=600
    [ -f "$series" ] || awk -v segments="$warmup:$rps:$base_ratio,$((limit + 60)):$rps:$2" -v seed="$3" \
        -v interval=$interval -f "$gen" > "$series"
    holds "$1" "$series" "(count(count_over_time(${any_alert}[${warmup}s])) or vector(0)) == bool 0" "$warmup" \
        || clean=no
    for ((t = interval; t <= limit; t += interval)); do
        if [ "$pend" = - ] && holds "$1" "$series" "count($any_alert)" $((warmup + t)); then pend=$t; fi
        if [ "$pend" != - ] && holds "$1" "$series" "count($firing)" $((warmup + t)); then fire=$t; break; fi
    done
    echo "$pend $fire $clean"
}

# day RULES SEED KIND: prints "ACTIVE_EVALS FIRING_EVALS MAX_RATIO MIN_RPS" over 24 h.
day() {
    local series="$work/day-$3-$2.txt" active firing_n maxr minrps
    if [ ! -f "$series" ]; then
        case "$3" in
            healthy) awk -v segments="86400:$rps:$base_ratio" -v seed="$2" -v interval=$interval -v diurnal=0.5 \
                         -v jitter=0.1 -v burst_prob=0.0005 -f "$gen" > "$series" ;;
            lowtraffic) awk -v segments="86400:0.05:0.2" -v seed="$2" -v interval=$interval -v jitter=0 \
                         -f "$gen" > "$series" ;;
        esac
    fi
    # The ratio and rate statistics leave out the first 10 minutes, where rate() has too few samples.
    read -r active firing_n maxr minrps < <(values_of "$1" "$series" 86400 \
        "sum(count_over_time(${any_alert}[1d]))" "sum(count_over_time(${firing}[1d]))" \
        "max(max_over_time(endpoint:http_requests:error_rate5m[85800s]))" \
        "min(min_over_time(endpoint:http_requests:rate5m[85800s]))")
    [ "$active" = none ] && active=0
    [ "$firing_n" = none ] && firing_n=0
    echo "$active $firing_n $maxr $minrps"
}

# near RULES SEED: firing episodes (evaluations where it fires and did not 15 s before) and firing
# evaluations over 24 h at 0.8% errors.
near() {
    local series="$work/near-$2.txt" starts n
    [ -f "$series" ] || awk -v segments="86400:$rps:0.008" -v seed="$2" -v interval=$interval -v jitter=0.1 \
        -f "$gen" > "$series"
    read -r starts n < <(values_of "$1" "$series" 86400 \
        "sum(count_over_time(($firing unless $firing offset ${interval}s)[1d:${interval}s]))" \
        "sum(count_over_time(${firing}[1d]))")
    [ "$starts" = none ] && starts=0
    [ "$n" = none ] && n=0
    echo "$starts $n"
}

# blip RULES SEED: firing evaluations after 30 s of 20% errors in healthy traffic.
blip() {
    local series="$work/blip-$2.txt" n
    [ -f "$series" ] || awk -v segments="$warmup:$rps:$base_ratio,30:$rps:0.2,900:$rps:$base_ratio" \
        -v seed="$2" -v interval=$interval -f "$gen" > "$series"
    read -r n < <(values_of "$1" "$series" $((warmup + 930)) "sum(count_over_time(${firing}[1h]))")
    [ "$n" = none ] && n=0
    echo "$n"
}

# per_seed_min EVALUATIONS: minutes per seed
per_seed_min() { awk -v n="$1" -v s="$seeds" -v i="$interval" 'BEGIN { printf "%.1f", n * i / 60 / s }'; }

# stats of a list of seconds ("-" = never): "min/median/max" formatted, or "never" parts.
stats() {
    printf '%s\n' "$@" | awk '
        $1 == "-" { never++; next } { v[++n] = $1 }
        END {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
            if (n == 0) { print "-1 -1 -1"; exit }
            printf "%d %d %d\n", v[1], v[int((n + 1) / 2)], (never ? -1 : v[n])
        }'
}
show() { # "min med max" -> "min / median / max" durations; -1 = not within 10 minutes
    local out="" v
    for v in $1; do
        if [ "$v" = -1 ]; then out="$out / not within 10m"; else out="$out / $(fmt_dur "$v")"; fi
    done
    echo "${out# / }"
}

start=$(date +%s)
fail=0
results="$work/results.md"
{
    echo "| \`for:\` | 5% spike: pending after | 5% spike: **fires after** (min / median / max) | 50% spike: **fires after** (min / median / max) | healthy 24 h: evaluations pending+firing / firing | low traffic 24 h: pending+firing / firing | 0.8% for 24 h: firing episodes / minutes firing | 30 s blip of 20%: minutes firing |"
    echo "|---|---|---|---|---|---|---|---|"
} > "$results"
maxr_healthy="" maxr_low="" minrps_healthy="" minrps_low=""
for f in $for_values; do
    r=$(rules_for "$f")
    p5=() f5=() f50=() warm_ok=yes
    for ((s = 1; s <= seeds; s++)); do
        read -r pend fire clean < <(spike "$r" 0.05 "$s"); p5+=("$pend"); f5+=("$fire")
        [ "$clean" = yes ] || warm_ok=no
        read -r pend fire clean < <(spike "$r" 0.5 "$s"); f50+=("$fire")
        [ "$clean" = yes ] || warm_ok=no
    done
    ha=0 hf=0 la=0 lf=0
    for ((s = 1; s <= seeds; s++)); do
        read -r a fi_ mr mrps < <(day "$r" "$s" healthy); ha=$((ha + a)); hf=$((hf + fi_))
        maxr_healthy="$maxr_healthy $mr"; minrps_healthy="$minrps_healthy $mrps"
        read -r a fi_ mr mrps < <(day "$r" "$s" lowtraffic); la=$((la + a)); lf=$((lf + fi_))
        maxr_low="$maxr_low $mr"; minrps_low="$minrps_low $mrps"
    done
    ne=0 nf=0 bf=0
    for ((s = 1; s <= seeds; s++)); do
        read -r a fi_ < <(near "$r" "$s"); ne=$((ne + a)); nf=$((nf + fi_))
        read -r fi_ < <(blip "$r" "$s"); bf=$((bf + fi_))
    done
    s5=$(stats "${f5[@]}"); s50=$(stats "${f50[@]}"); sp5=$(stats "${p5[@]}")
    label="$f"; [ "$f" = "$shipped_for" ] && label="**$f (shipped)**"
    warm_note=""; [ "$warm_ok" = yes ] || warm_note=" (fired during warm-up!)"
    echo "| $label | $(show "$sp5") | $(show "$s5") | $(show "$s50")$warm_note | $ha / $hf | $la / $lf | $ne / $(per_seed_min "$nf") | $(per_seed_min "$bf") |" >> "$results"
    if [ "$f" = "$shipped_for" ]; then
        # shellcheck disable=SC2086 # split "min median max"
        set -- $s5; max5=$3
        # shellcheck disable=SC2086
        set -- $s50; max50=$3
        if [ "$max5" = -1 ] || [ "$max5" -gt 180 ]; then echo "REQUIREMENT MISSED: 5% spike not firing within 3m" >&2; fail=1; fi
        if [ "$max50" = -1 ] || [ "$max50" -gt 120 ]; then echo "REQUIREMENT MISSED: 50% spike not firing within 2m" >&2; fail=1; fi
        if [ "$hf" -ne 0 ] || [ "$lf" -ne 0 ] || [ "$warm_ok" != yes ]; then echo "REQUIREMENT MISSED: false positive" >&2; fail=1; fi
    fi
done
elapsed=$(( $(date +%s) - start ))
# shellcheck disable=SC2086 # $1 is a space-separated list
maxof() { printf '%s\n' $1 | awk 'NR == 1 || $1 > m { m = $1 } END { printf "%.3g%%", m * 100 }'; }
# shellcheck disable=SC2086
minof() { printf '%s\n' $1 | awk 'NR == 1 || $1 < m { m = $1 } END { printf "%.3g", m }'; }

cat <<EOF
### Detection quality: \`$(basename "$rules")\`, alert HighErrorRate

Times are counted from the start of the spike (the first failing request falls in the 15 s after it) to
the first rule evaluation at which the alert is **firing** in Prometheus; Alertmanager's \`group_wait\`
and the receiver come on top. $seeds seed(s) per scenario; shipped \`for: $shipped_for\`.

$(cat "$results")

- Spikes: ${warmup}s of healthy traffic ($rps req/s +-10%, ${base_ratio} 5xx ratio), then $rps req/s with 5% or 50% errors.
  Requirements: 5% fires within 3m, 50% within 2m. The alert must not fire during the warm-up (the
  table says so if it did).
- Healthy 24 h: 10-30 req/s daily cycle, +-10% noise, binomial 0.3% errors, bursts of 5-20 failed requests
  (p=0.0005 per scrape). Highest 5-minute error ratio seen: $(maxof "$maxr_healthy") (threshold 1%);
  lowest request rate: $(minof "$minrps_healthy") req/s.
- Low traffic 24 h: one request every 20 s, 20% failing. Highest 5-minute error ratio: $(maxof "$maxr_low")
  (the ratio alone would page); request rate $(minof "$minrps_low") req/s, below the 1 req/s guard.
- Flaps: 24 h at 20 req/s +-10% with 0.8% binomial errors (just under the threshold); the 30 s blip is
  20% errors for two scrapes (about 120 failed requests) in healthy traffic. Counts are totals over all
  seeds; "minutes firing" is per seed.
- Run: \`tests/bench/detection-quality.sh --seeds $seeds --for "$for_values"\` in ${elapsed}s on $(uname -srm),
  $(nproc) CPU ($(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)),
  $("$promtool" --version 2>&1 | head -1), awk: $(readlink -f "$(command -v awk)"), $(date -u +%Y-%m-%d).
EOF
exit "$fail"
