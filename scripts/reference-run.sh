#!/usr/bin/env bash
# Produces the committed reference report under reports/: the full default run of every demo,
# parity on MNIST across every runtime, the two tune searches of issue 5, and the MNIST
# benchmark. Needs QUANTLAB_DATA (or the user cache) to hold the data. Each step's log and
# wall time go to reports/reference-run.log.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${QUANTLAB_DATA:?set QUANTLAB_DATA to the data folder}"
make setup browser tfjs-node
Q=.venv/bin/quantlab
log=reports/reference-run.log
mkdir -p reports
: > "$log"
step() {
  echo "### $*" | tee -a "$log"
  local t0=$SECONDS
  local rc=0
  COLUMNS=160 "$@" 2>&1 | tee -a "$log" || rc=$?
  echo "### $(( SECONDS - t0 )) s, exit $rc: $*" | tee -a "$log"
}
step $Q run
step $Q parity mnist
step $Q tune fashion-mnist --max-drop 0.002
step $Q tune mobilenetv2 --max-drop 0.01 --backend tensorflow --sweep b
step $Q bench
step $Q report --check
