#!/usr/bin/env bash
# Checks that each folder of receiver/ includes only folders of lower layers (ARCHITECTURE.md): no cycle, no reach back up.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Highest first; a folder may include its own files and those of any folder after it in this list.
layers=(ctl daemon api page engine audit notify actions ledger http ops codec config model common)
rank() {
  local i
  for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done
  echo "-1"
}
bad=0
checked=0
for dir in receiver/*/; do
  from=$(basename "$dir")
  from_rank=$(rank "$from")
  if [ "$from_rank" -lt 0 ]; then
    echo "receiver/$from: not in the layer list of $0 (add it where it belongs)"
    bad=1
    continue
  fi
  while IFS=: read -r file _ include; do
    to=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$include")
    [ "$to" = "$from" ] && continue
    checked=$((checked + 1))
    to_rank=$(rank "$to")
    if [ "$to_rank" -le "$from_rank" ]; then
      echo "$file includes $to/: $from may include only ${layers[*]:$((from_rank + 1))}"
      bad=1
    fi
  done < <(grep -Hn '^#include "[a-z_]*/' "$dir"*.cpp "$dir"*.hpp 2>/dev/null || true)
done
[ "$checked" -gt 0 ] || { echo "no includes found: the check would pass on nothing"; exit 1; }
[ "$bad" -eq 0 ] && echo "include layers: $checked includes across folders, none reaches up"
exit "$bad"
