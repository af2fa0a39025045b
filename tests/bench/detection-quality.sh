#!/usr/bin/env bash
# Detection-quality benchmark for rules/error-rate.rules.yml (alert HighErrorRate). NOT a CI test:
# it takes a few minutes and prints a Markdown report for docs/detection.md.
#
# It generates promtool unit-test files (15 s scrape interval, evaluation_interval 15s, noisy data from
# tests/bench/detection/gen-series.awk with fixed seeds) and MEASURES, for each variant of the rules
# (the shipped file, copies with another `for:` on one of its two rules, and the baseline file):
#   - time to fire of a 5% and a 50% error spike at 20 req/s on top of 0.3% background errors, and of
#     the same spikes at 2 req/s: the first evaluation at which HighErrorRate is firing (either
#     window), counted from the start of the spike, and which window fired first;
#     required at 20 req/s: 5% within 90 s, 50% within 30 s, on every seed;
#   - false positives, counted as evaluations with the alert pending or firing, over 24 h of
#       healthy traffic  (20 req/s +-50% daily cycle, +-10% noise, 0.3% binomial errors, rare bursts
#                         of 5-20 failed requests),
#       low traffic      (one request every 20 s, 20% of them failing: under the 1 req/s guard),
#       modest traffic   (2 req/s +-10%, 0.3% binomial errors: just above the guard);
#     required: none, not even pending;
#   - flaps: firing episodes (an evaluation where some HighErrorRate of the endpoint fires and none
#     did 15 s before) over 24 h of a service living just under the threshold (0.8% errors at
#     20 req/s); required: no more than the baseline file (the rules before issue 15); and the minutes
#     firing after a 30 s blip of 20% errors (about 120 failed requests, a bad rolling restart).
#
# Usage: tests/bench/detection-quality.sh [--rules FILE] [--baseline FILE|none] [--for "30s 90s 2m"]
#                                          [--fast-for "0s 30s"] [--seeds N] [--keep]
#   --rules     rule file to measure (default rules/error-rate.rules.yml). Its two `for:` lines are
#               marked "# for-5m" and "# for-1m"; their values are the "shipped" ones
#   --baseline  a rule file to compare with (default tests/bench/detection/baseline-d125bd1.rules.yml,
#               the shipped rules before issue 15; its single `for:` counts as the 5-minute one)
#   --for       other `for:` values for the 5-minute rule (fast window at its shipped `for:`)
#   --fast-for  other `for:` values for the fast window (5-minute rule at its shipped `for:`)
#   --seeds     random seeds per scenario (default 5); results give min/median/max over the seeds
#   --keep      keep the generated files (their folder is printed)
# Needs: bash, awk (any POSIX awk), promtool (Debian package prometheus). Exit status 1 if the shipped
# rules miss a requirement.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rules="$root/rules/error-rate.rules.yml"
baseline="$here/detection/baseline-d125bd1.rules.yml"
for_values="30s 90s 2m"
fast_for_values="0s 30s"
seeds=5
keep=0
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rules) rules=$(abs "$2"); shift 2 ;;
        --baseline) if [ "$2" = none ]; then baseline=""; else baseline=$(abs "$2"); fi; shift 2 ;;
        --for) for_values=$2; shift 2 ;;
        --fast-for) fast_for_values=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
promtool=$(command -v promtool || true)
[ -n "$promtool" ] || { echo "promtool missing: install the Debian package prometheus" >&2; exit 1; }
gen="$here/detection/gen-series.awk"

marked_for() { awk -v m="# $2" '/^[[:space:]]*for:/ && index($0, m) { print $2; exit }' "$1"; }
shipped_for5=$(marked_for "$rules" for-5m)
shipped_for1=$(marked_for "$rules" for-1m)
[ -n "$shipped_for5" ] && [ -n "$shipped_for1" ] ||
    { echo "$rules: no \`for:\` lines marked '# for-5m' and '# for-1m'" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/detection-quality.XXXXXX")
if [ "$keep" = 1 ]; then echo "generated files kept in $work" >&2; else trap 'rm -rf "$work"' EXIT; fi

interval=15                 # scrape interval and evaluation interval, seconds
warmup=1800                 # healthy traffic before a spike, seconds
limit=600                   # a spike that has not fired after this long counts as "not within 10m"
rps=20                      # requests per second in the spike scenarios
modest_rps=2                # the modest-traffic day and the low-traffic spikes
base_ratio=0.003            # background 5xx ratio
labels='service="checkout",environment="production",endpoint="/pay"'

# variant NAME SOURCE FOR5 FOR1: a copy of SOURCE with the marked `for:` lines set (a file without
# markers has one `for:`, set to FOR5). Prints its path.
variant() {
    local f="$work/rules-$1.yml"
    if grep -q '^[[:space:]]*for:.*# for-5m' "$2"; then
        sed -e "/^[[:space:]]*for:.*# for-5m/ s/for:.*/for: $3  # for-5m/" \
            -e "/^[[:space:]]*for:.*# for-1m/ s/for:.*/for: $4  # for-1m/" "$2" > "$f"
    else
        sed "s/^\([[:space:]]*for:\).*/\1 $3/" "$2" > "$f"
    fi
    echo "$f"
}

# values_at RULES SERIES "SECONDS|EXPR"...: the values of one-series EXPRs, each at its time, in one
# promtool run (promtool prints what it got when an expectation, deliberately impossible here, fails);
# "none" for an empty result.
values_at() {
    local f="$work/value.test.yml" rules=$1 series=$2 pair
    shift 2
    {
        echo "rule_files: [\"$rules\"]"
        echo "evaluation_interval: ${interval}s"
        echo "tests:"
        echo "  - interval: ${interval}s"
        echo "    input_series:"
        echo "      - series: 'http_requests_total{$labels,code=\"200\"}'"
        echo "        values: '$(sed -n 1p "$series")'"
        echo "      - series: 'http_requests_total{$labels,code=\"500\"}'"
        echo "        values: '$(sed -n 2p "$series")'"
        echo "    promql_expr_test:"
        for pair in "$@"; do
            printf '      - expr: %s\n        eval_time: %ss\n        exp_samples: [{labels: "{}", value: -12345}]\n' \
                "${pair#*|}" "${pair%%|*}"
        done
    } > "$f"
    "$promtool" test rules "$f" 2>&1 | awk '
        /^ *expr: .*, err: / { printf "error "; next }
        /got:/ { v = $NF; printf "%s ", (v == "nil" || v == "got:") ? "none" : sprintf("%.6g", v) }
        END { print "" }'
}

fmt_dur() { # seconds -> 2m15s; "-" stays "-"
    local s=$1
    if [ "$s" = - ]; then echo "-"; return; fi
    if [ "$s" -ge 60 ]; then
        if [ $((s % 60)) -eq 0 ]; then echo "$((s / 60))m"; else echo "$((s / 60))m$((s % 60))s"; fi
    else echo "${s}s"; fi
}

any_alert='ALERTS{alertname="HighErrorRate"}'
firing='ALERTS{alertname="HighErrorRate",alertstate="firing"}'
firing1='ALERTS{alertname="HighErrorRate",alertstate="firing",window="1m"}'
firing5='ALERTS{alertname="HighErrorRate",alertstate="firing",window="5m"}'
# The first evaluation (absolute seconds) at which SELECTOR had a sample, over the last LIMIT seconds.
first_at() { echo "min(min_over_time(timestamp($1)[${limit}s:${interval}s]))"; }
since() { # ABS_SECONDS START -> seconds after START, "-" for none
    if [ "$1" = none ]; then echo -; else awk -v a="$1" -v s="$2" 'BEGIN { printf "%d", a - s }'; fi
}

# spike RULES RATE RATIO SEED: prints "PENDING_AFTER FIRING_AFTER FIRST_WINDOW WARMUP_CLEAN", times in
# seconds after the spike start ("-" if not within $limit s), FIRST_WINDOW 1m / 5m / - .
spike() {
    local series="$work/spike-$2-$3-$4.txt" p f f1 f5 c win
    [ -f "$series" ] || awk -v segments="$warmup:$2:$base_ratio,$((limit + 60)):$2:$3" -v seed="$4" \
        -v interval=$interval -f "$gen" > "$series"
    read -r c p f f1 f5 < <(values_at "$1" "$series" \
        "$warmup|sum(count_over_time(${any_alert}[${warmup}s]))" \
        "$((warmup + limit))|$(first_at "$any_alert")" "$((warmup + limit))|$(first_at "$firing")" \
        "$((warmup + limit))|$(first_at "$firing1")" "$((warmup + limit))|$(first_at "$firing5")")
    p=$(since "$p" $warmup); f=$(since "$f" $warmup); f1=$(since "$f1" $warmup); f5=$(since "$f5" $warmup)
    win=-
    if [ "$f" != - ]; then
        if [ "$f1" = "$f" ]; then win=1m; else win=5m; fi
    fi
    [ "$c" = none ] && c=yes || c=no
    echo "$p $f $win $c"
}

# day_series SEED KIND: the file of the 24 h series.
day_series() {
    local series="$work/day-$2-$1.txt"
    if [ ! -f "$series" ]; then
        case "$2" in
            healthy) awk -v segments="86400:$rps:$base_ratio" -v seed="$1" -v interval=$interval -v diurnal=0.5 \
                         -v jitter=0.1 -v burst_prob=0.0005 -f "$gen" > "$series" ;;
            lowtraffic) awk -v segments="86400:0.05:0.2" -v seed="$1" -v interval=$interval -v jitter=0 \
                         -f "$gen" > "$series" ;;
            modest) awk -v segments="86400:$modest_rps:$base_ratio" -v seed="$1" -v interval=$interval \
                         -v jitter=0.1 -f "$gen" > "$series" ;;
        esac
    fi
    echo "$series"
}

# day RULES SEED KIND: prints "ACTIVE_EVALS FIRING_EVALS" over 24 h.
day() {
    local a f
    read -r a f < <(values_at "$1" "$(day_series "$2" "$3")" \
        "86400|sum(count_over_time(${any_alert}[1d]))" "86400|sum(count_over_time(${firing}[1d]))")
    [ "$a" = none ] && a=0
    [ "$f" = none ] && f=0
    echo "$a $f"
}

# day_stats SEED KIND: "MAX_RATIO5M MAX_RATIO1M MAX_ERRORS5M MIN_RPS5M" of the 24 h data, read from the
# shipped rules' recorded series (the data do not depend on the rules; promtool refuses the same
# statistics from raw subqueries over a day). The first 10 minutes are left out: rate() has too few
# samples there.
day_stats() {
    values_at "$rules" "$(day_series "$1" "$2")" \
        "86400|max(max_over_time(endpoint:http_requests:error_rate5m[85800s]))" \
        "86400|max(max_over_time(endpoint:http_requests:error_rate1m[85800s]))" \
        "86400|max(max_over_time(endpoint:http_requests:errors5m[85800s]))" \
        "86400|min(min_over_time(endpoint:http_requests:rate5m[85800s]))"
}

# near RULES SEED: firing episodes (evaluations where some HighErrorRate fires and none did 15 s
# before) and evaluations with some HighErrorRate firing, over 24 h at 0.8% errors.
near() {
    local series="$work/near-$2.txt" starts n
    [ -f "$series" ] || awk -v segments="86400:$rps:0.008" -v seed="$2" -v interval=$interval -v jitter=0.1 \
        -f "$gen" > "$series"
    read -r starts n < <(values_at "$1" "$series" \
        "86400|sum(count_over_time((count($firing) unless count($firing offset ${interval}s))[1d:${interval}s]))" \
        "86400|sum(count_over_time(count($firing)[1d:${interval}s]))")
    [ "$starts" = none ] && starts=0
    [ "$n" = none ] && n=0
    echo "$starts $n"
}

# blip RULES SEED: evaluations with some HighErrorRate firing after 30 s of 20% errors in healthy traffic.
blip() {
    local series="$work/blip-$2.txt" n
    [ -f "$series" ] || awk -v segments="$warmup:$rps:$base_ratio,30:$rps:0.2,900:$rps:$base_ratio" \
        -v seed="$2" -v interval=$interval -f "$gen" > "$series"
    read -r n < <(values_at "$1" "$series" "$((warmup + 930))|sum(count_over_time(count($firing)[1h:${interval}s]))")
    [ "$n" = none ] && n=0
    echo "$n"
}

per_seed_min() { awk -v n="$1" -v s="$seeds" -v i="$interval" 'BEGIN { printf "%.1f", n * i / 60 / s }'; }

# stats SECONDS...: "min median max" ("-" = never; max -1 if any never, all -1 if all never).
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
        if [ "$v" = -1 ]; then out="$out / never"; else out="$out / $(fmt_dur "$v")"; fi
    done
    echo "${out# / }"
}
# windows LIST: "1m x3, 5m x2"
windows() { printf '%s\n' "$@" | sort | uniq -c | awk '{ printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1 }'; }

start=$(date +%s)
fail=0
times_md="$work/times.md"
quiet_md="$work/quiet.md"
seeds_md="$work/seeds.md"
echo "| rules | 5% spike: pending after | 5% spike: **fires after** | 5% fired by | 50% spike: **fires after** | 50% fired by | at 2 req/s: 5% fires after | at 2 req/s: 50% fires after |" > "$times_md"
echo "|---|---|---|---|---|---|---|---|" >> "$times_md"
echo "| rules | healthy 24 h: pending+firing / firing | low traffic 24 h: pending+firing / firing | modest 24 h (2 req/s): pending+firing / firing | 0.8% for 24 h: firing episodes / minutes firing per day | 30 s blip of 20%: minutes firing |" > "$quiet_md"
echo "|---|---|---|---|---|---|" >> "$quiet_md"
echo "| seed | 5% spike at 20 req/s: pending / fires (window) | 50% spike at 20 req/s: pending / fires (window) | 5% at 2 req/s: fires | 50% at 2 req/s: fires | healthy / low / modest day: pending+firing | 0.8%: episodes |" > "$seeds_md"
echo "|---|---|---|---|---|---|---|" >> "$seeds_md"

stat_healthy="" stat_low="" stat_modest="" base_episodes=""
# measure NAME LABEL RULES IS_SHIPPED
measure() {
    local name=$1 label=$2 r=$3 shipped=$4 s
    local p5=() f5=() w5=() f50=() w50=() m5=() m50=() warm20=yes warm2=yes ha=0 hf=0 la=0 lf=0 ma=0 mf=0 ne=0 nf=0 bf=0
    local pend fire win clean a fi_ row5 row50 rowm5 rowm50 dayrow
    for ((s = 1; s <= seeds; s++)); do
        read -r pend fire win clean < <(spike "$r" $rps 0.05 "$s"); p5+=("$pend"); f5+=("$fire"); w5+=("$win")
        [ "$clean" = yes ] || warm20=no; row5="$(fmt_dur "$pend") / $(fmt_dur "$fire") ($win)"
        read -r pend fire win clean < <(spike "$r" $rps 0.5 "$s"); f50+=("$fire"); w50+=("$win")
        [ "$clean" = yes ] || warm20=no; row50="$(fmt_dur "$pend") / $(fmt_dur "$fire") ($win)"
        read -r pend fire win clean < <(spike "$r" $modest_rps 0.05 "$s"); m5+=("$fire"); rowm5="$(fmt_dur "$fire") ($win)"
        [ "$clean" = yes ] || warm2=no
        read -r pend fire win clean < <(spike "$r" $modest_rps 0.5 "$s"); m50+=("$fire"); rowm50="$(fmt_dur "$fire") ($win)"
        [ "$clean" = yes ] || warm2=no
        read -r a fi_ < <(day "$r" "$s" healthy); ha=$((ha + a)); hf=$((hf + fi_)); dayrow="$a"
        read -r a fi_ < <(day "$r" "$s" lowtraffic); la=$((la + a)); lf=$((lf + fi_)); dayrow="$dayrow / $a"
        read -r a fi_ < <(day "$r" "$s" modest); ma=$((ma + a)); mf=$((mf + fi_)); dayrow="$dayrow / $a"
        read -r a fi_ < <(near "$r" "$s"); ne=$((ne + a)); nf=$((nf + fi_))
        read -r fi_ < <(blip "$r" "$s"); bf=$((bf + fi_))
        if [ "$shipped" = yes ] || [ "$name" = baseline ]; then
            echo "| $label, seed $s | $row5 | $row50 | $rowm5 | $rowm50 | $dayrow | $a |" >> "$seeds_md"
        fi
    done
    local s5 s50 sp5 sm5 sm50 note20="" note2=""
    s5=$(stats "${f5[@]}"); s50=$(stats "${f50[@]}"); sp5=$(stats "${p5[@]}")
    sm5=$(stats "${m5[@]}"); sm50=$(stats "${m50[@]}")
    [ "$warm20" = yes ] || note20=" (alert during the warm-up!)"
    [ "$warm2" = yes ] || note2=" (alert during the warm-up!)"
    echo "| $label | $(show "$sp5") | $(show "$s5")$note20 | $(windows "${w5[@]}") | $(show "$s50")$note20 | $(windows "${w50[@]}") | $(show "$sm5")$note2 | $(show "$sm50")$note2 |" >> "$times_md"
    echo "| $label | $ha / $hf | $la / $lf | $ma / $mf | $ne / $(per_seed_min "$nf") | $(per_seed_min "$bf") |" >> "$quiet_md"
    [ "$name" = baseline ] && base_episodes=$ne
    if [ "$shipped" = yes ]; then
        local max5 max50
        # shellcheck disable=SC2086 # split "min median max"
        set -- $s5; max5=$3
        # shellcheck disable=SC2086
        set -- $s50; max50=$3
        if [ "$max5" = -1 ] || [ "$max5" -gt 90 ]; then echo "REQUIREMENT MISSED: 5% spike not firing within 90 s" >&2; fail=1; fi
        if [ "$max50" = -1 ] || [ "$max50" -gt 30 ]; then echo "REQUIREMENT MISSED: 50% spike not firing within 30 s" >&2; fail=1; fi
        if [ "$ha" -ne 0 ] || [ "$la" -ne 0 ] || [ "$ma" -ne 0 ] || [ "$warm20" != yes ] || [ "$warm2" != yes ]; then
            echo "REQUIREMENT MISSED: an alert (pending or firing) on a quiet day or in a warm-up" >&2; fail=1
        fi
        if [ -n "$base_episodes" ] && [ "$ne" -gt "$base_episodes" ]; then
            echo "REQUIREMENT MISSED: more flaps at 0.8% than the baseline ($ne > $base_episodes)" >&2; fail=1
        fi
    fi
}

for ((s = 1; s <= seeds; s++)); do
    read -r r5 r1 e5 mr < <(day_stats "$s" healthy); stat_healthy="$stat_healthy $r5/$r1/$e5/$mr"
    read -r r5 r1 e5 mr < <(day_stats "$s" lowtraffic); stat_low="$stat_low $r5/$r1/$e5/$mr"
    read -r r5 r1 e5 mr < <(day_stats "$s" modest); stat_modest="$stat_modest $r5/$r1/$e5/$mr"
done
if [ -n "$baseline" ]; then
    base_for=$(awk '/^[[:space:]]*for:/ { print $2; exit }' "$baseline")
    measure baseline "baseline ($(basename "$baseline"), for: $base_for)" "$(variant baseline "$baseline" "$base_for" -)" no
fi
measure shipped "**shipped: 5m rule for: $shipped_for5, fast window for: $shipped_for1**" \
    "$(variant shipped "$rules" "$shipped_for5" "$shipped_for1")" yes
for f in $for_values; do
    [ "$f" = "$shipped_for5" ] && continue
    measure "for5-$f" "5m rule for: $f, fast for: $shipped_for1" "$(variant "for5-$f" "$rules" "$f" "$shipped_for1")" no
done
for f in $fast_for_values; do
    [ "$f" = "$shipped_for1" ] && continue
    measure "for1-$f" "5m rule for: $shipped_for5, fast for: $f" "$(variant "for1-$f" "$rules" "$shipped_for5" "$f")" no
done
elapsed=$(( $(date +%s) - start ))

# summary LIST FIELD: the largest (FIELD 1-3) or smallest (FIELD 4) of the per-seed "r5/r1/e5/rps" values.
summary() {
    printf '%s\n' $1 | awk -F/ -v k="$2" '
        $k != "none" { if (n++ == 0 || (k == 4 ? $k < m : $k > m)) m = $k }
        END { if (!n) print "none"; else if (k <= 2) printf "%.3g%%", m * 100; else printf "%.3g", m }'
}

cat <<EOF
### Detection quality: \`$(basename "$rules")\`, alert HighErrorRate

Times are counted from the start of the spike (its first failing request falls in the 15 s after it)
to the first rule evaluation at which some HighErrorRate is **firing** in Prometheus (min / median /
max over $seeds seeds); Alertmanager's \`group_wait\` and the receiver come on top. "fired by" says which
rule fired first, per seed. Shipped: 5-minute rule \`for: $shipped_for5\`, fast window \`for: $shipped_for1\`.

$(cat "$times_md")

$(cat "$quiet_md")

Per seed (baseline and shipped):

$(cat "$seeds_md")

- Spikes: ${warmup}s of healthy traffic (+-10% noise, ${base_ratio} 5xx ratio), then the same rate with 5% or 50%
  errors; at $rps req/s (required: 5% fires within 90 s, 50% within 30 s) and at $modest_rps req/s (no
  requirement: shows what the error floor costs). The alert must not fire during the warm-up (the
  table says so if it did).
- Healthy 24 h: 10-30 req/s daily cycle, +-10% noise, binomial 0.3% errors, bursts of 5-20 failed requests
  (p=0.0005 per scrape). Highest 5-minute ratio $(summary "$stat_healthy" 1) (threshold 1%), highest 1-minute ratio
  $(summary "$stat_healthy" 2) (fast threshold 3%), most failed requests in 5 minutes $(summary "$stat_healthy" 3);
  lowest rate $(summary "$stat_healthy" 4) req/s.
- Low traffic 24 h: one request every 20 s, 20% failing. Highest 5-minute ratio $(summary "$stat_low" 1), 1-minute
  $(summary "$stat_low" 2) (the ratios alone would page); rate $(summary "$stat_low" 4) req/s, below the 1 req/s guard.
- Modest traffic 24 h: $modest_rps req/s +-10%, binomial 0.3% errors, no bursts. Highest 5-minute ratio
  $(summary "$stat_modest" 1), 1-minute $(summary "$stat_modest" 2), most failed requests in 5 minutes $(summary "$stat_modest" 3)
  (error floor 20); lowest rate $(summary "$stat_modest" 4) req/s.
- Flaps: 24 h at $rps req/s +-10% with 0.8% binomial errors (just under the threshold); episodes are totals
  over all seeds, minutes firing per seed. Blip: 20% errors for two scrapes (about 120 failed
  requests) in healthy traffic, minutes firing per seed.
- Run: \`tests/bench/detection-quality.sh --seeds $seeds --for "$for_values" --fast-for "$fast_for_values"\`
  in ${elapsed}s on $(uname -srm), $(nproc) CPU ($(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)),
  $("$promtool" --version 2>&1 | head -1), awk: $(readlink -f "$(command -v awk)"), $(date -u +%Y-%m-%d).
EOF
exit "$fail"
