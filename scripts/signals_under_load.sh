#!/usr/bin/env bash
# The interrupt, crash and hang tests (`pytest -m signals`) RUNS times in a row while two busy
# loops keep both cores of a 2-core machine busy: they must pass every time (issue 23). Prints one
# line per run and a summary; exit 1 if any run failed. The busy loops end with the script, also
# on Ctrl-C. Usage: scripts/signals_under_load.sh [RUNS] (default 5); QUANTLAB_DATA as for make test.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
busy=()
cleanup() { for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
for _ in 1 2; do
  python3 -c 'while True: pass' &
  busy+=("$!")
done
source scripts/node-env.sh
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if out=$(.venv/bin/pytest -m signals -q -p no:cacheprovider -n 2 --dist loadfile 2>&1); then status=passed; else status=FAILED; failed=$((failed + 1)); fi
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "run $i/$runs: $status in $(( $(date +%s) - start )) s, load average $load: $(echo "$out" | tail -1)"
  if [ "$status" = FAILED ]; then echo "$out" | grep -E '^(FAILED|ERROR)' || true; fi
done
echo "signals tests under two busy loops: $((runs - failed))/$runs runs passed"
[ "$failed" -eq 0 ]
