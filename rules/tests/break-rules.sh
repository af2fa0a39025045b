#!/usr/bin/env bash
# Mutation check of rules/tests/error-rate.test.yml: breaks rules/error-rate.rules.yml on purpose, one
# literal at a time, and checks that the tests FAIL for every broken copy (and pass for the original).
#
#   rules/tests/break-rules.sh          prints one line per break: "caught" with the failing tests,
#                                       or "NOT CAUGHT"; exit status 1 if any break was not caught
#
# Not a CTest test (about a minute). Run it after changing the rules or the
# tests; docs/detection.md ("Tests") lists what each break means. The breaks change one of three parts
# of the rule file: "rec" the recording rules, "slow" the 5-minute rule (window="5m"), "fast" the fast
# window (window="1m"); the parts are split at the `- alert: HighErrorRate` lines.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rules="$here/../error-rate.rules.yml"
tests="$here/error-rate.test.yml"
promtool=$(command -v promtool || true)
[ -n "$promtool" ] || { echo "promtool missing: install the Debian package prometheus" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/break-rules.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ID PART SED-EXPRESSION DESCRIPTION
breaks=(
    'b01|slow|s/error_rate5m > 0\.01/error_rate5m > 0.025/|5-minute threshold 1% -> 2.5%'
    'b02|slow|s/error_rate5m > 0\.01/error_rate5m > 0.004/|5-minute threshold 1% -> 0.4%'
    'b03|slow|s/rate5m >= 1/rate5m >= 0/|5-minute traffic guard removed'
    'b04|slow|s/errors5m >= 20/errors5m >= 0/|error floor removed from the 5-minute rule'
    'b05|slow|s/errors5m >= 20/errors5m >= 21/|error floor 20 -> 21 in the 5-minute rule'
    'b06|slow|s/for: 1m /for: 45s /|5-minute rule for: 1m -> 45s'
    'b07|slow|s/for: 1m /for: 75s /|5-minute rule for: 1m -> 75s'
    'b08|fast|s/error_rate1m > 0\.03/error_rate1m > 0.02/|fast threshold 3% -> 2%'
    'b09|fast|s/error_rate1m > 0\.03/error_rate1m > 0.04/|fast threshold 3% -> 4%'
    'b10|fast|s/rate1m >= 1/rate1m >= 0/|fast traffic guard removed'
    'b11|fast|s/error_rate5m > 0\.01/error_rate5m > 0/|fast window without the 5-minute ratio'
    'b12|fast|s/rate5m >= 1/rate5m >= 0/|fast window without the 5-minute traffic guard'
    'b13|fast|s/errors5m >= 20/errors5m >= 0/|fast window without the error floor'
    'b14|fast|s/for: 15s /for: 0s /|fast window for: 15s -> 0s'
    'b15|fast|s/for: 15s /for: 30s /|fast window for: 15s -> 30s'
    'b16|fast|s/window: 1m/window: 5m/|fast window labelled window="5m"'
    'b17|slow|s/over the last 5 minutes$/over 5m/|5-minute summary no longer in words'
    'b18|fast|s/error_rate5m > 0\.01/error_rate5m > 0.02/|fast window copy of the 5-minute threshold 1% -> 2%'
    'b19|rec|s/\[1m\]/[2m]/g|fast window over 2 minutes instead of 1'
    'b20|rec|s/code=~"5\.\."/code="500"/g|only code 500 counted as an error'
    'b21|rec|s/sum by (service, environment, endpoint)/sum by (service, environment)/g|endpoint summed away'
    'b22|fast|s/errors5m >= 20/errors5m >= 10/|fast window copy of the error floor 20 -> 10'
)

# run_tests RULES: the names of the failing tests, "" when all pass. The whole file runs first; when
# it fails, each test runs alone (promtool names only some failing tests itself).
run_tests() {
    sed "s#^  - \.\./error-rate\.rules\.yml\$#  - $1#" "$tests" > "$work/test.yml"
    "$promtool" test rules "$work/test.yml" > /dev/null 2>&1 && return 0
    local n i names=()
    n=$(grep -c '^  - name: ' "$work/test.yml")
    for ((i = 1; i <= n; i++)); do
        # the header (up to "tests:") and the i-th test
        awk -v want="$i" '/^  - name: / { k++ } k == 0 || k == want' "$work/test.yml" > "$work/one.yml"
        "$promtool" test rules "$work/one.yml" > /dev/null 2>&1 ||
            names+=("$(sed -n 's/^  - name: //p' "$work/one.yml")")
    done
    [ ${#names[@]} -gt 0 ] || names=("(only the whole file)")
    local IFS=';'
    echo "${names[*]}"
}

original=$(run_tests "$rules")
[ -z "$original" ] || { echo "the tests fail on the unbroken rules: $original" >&2; exit 1; }

first=$(grep -n -- '- alert: HighErrorRate' "$rules" | sed -n 1p | cut -d: -f1)
second=$(grep -n -- '- alert: HighErrorRate' "$rules" | sed -n 2p | cut -d: -f1)
[ -n "$first" ] && [ -n "$second" ] || { echo "$rules: expected two HighErrorRate rules" >&2; exit 1; }

missed=0
for b in "${breaks[@]}"; do
    IFS='|' read -r id part expr what <<<"$b"
    case "$part" in
        rec) range="1,$((first - 1))" ;;
        slow) range="$first,$((second - 1))" ;;
        fast) range="$second,\$" ;;
    esac
    broken="$work/$id.rules.yml"
    sed "${range}${expr}" "$rules" > "$broken"
    if cmp -s "$rules" "$broken"; then
        echo "$id  did not apply ($what): fix this script"; missed=1; continue
    fi
    failing=$(run_tests "$broken")
    if [ -n "$failing" ]; then
        echo "$id  caught      $what  <- $failing"
    else
        echo "$id  NOT CAUGHT  $what"; missed=1
    fi
done
exit "$missed"
