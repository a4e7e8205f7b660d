#!/usr/bin/env bash
# Produces the committed reference report under reports/: the full default run of every demo,
# parity on MNIST across every runtime, the tune searches (Fashion-MNIST, MobileNetV2 layers and
# graph), delivery of every demo, and the MNIST
# benchmark. Needs QUANTLAB_DATA (or the user cache) to hold the data. Each step's log and
# wall time go to reports/reference-run.log.
#   bash scripts/reference-run.sh             every step; starts a new log
#   bash scripts/reference-run.sh tune report  only those steps (run parity tune verify delivery bench report;
#                                              images = run + tunes of the two MobileNetV2 demos only),
#                                              appended to the log under a dated heading
set -euo pipefail
cd "$(dirname "$0")/.."
: "${QUANTLAB_DATA:?set QUANTLAB_DATA to the data folder}"
Q=.venv/bin/quantlab
log=reports/reference-run.log
mkdir -p reports
steps=("$@")
for s in "${steps[@]}"; do
  case $s in run|images|verify|parity|tune|delivery|bench|report) ;; *) echo "unknown step $s; valid: run images verify parity tune delivery bench report" >&2; exit 2 ;; esac
done
if [ ${#steps[@]} -eq 0 ]; then
  steps=(run parity tune verify delivery bench report)
  : > "$log"
else
  echo "#### $(date -u +%Y-%m-%dT%H:%MZ): re-run of steps: ${steps[*]}" >> "$log"
fi
make setup browser tfjs-node
step() {
  echo "### $*" | tee -a "$log"
  local t0=$SECONDS
  local rc=0
  COLUMNS=160 "$@" 2>&1 | tee -a "$log" || rc=$?
  echo "### $(( SECONDS - t0 )) s, exit $rc: $*" | tee -a "$log"
}
image_tunes() {
  step $Q tune mobilenetv2 --max-drop 0.01 --backend tensorflow
  step $Q tune mobilenetv2-graph --max-drop 0.01 --backend tensorflow
  step $Q tune mobilenetv2-graph --max-drop 0.01 --backend tensorflow --equalized
}
for s in "${steps[@]}"; do
  case $s in
    run) step $Q run ;;
    verify)  # the MobileNetV2 tunes' answers on all 1000 images (the tune judged them on a held-out half)
      tmp=$(mktemp -d)
      step $Q evaluate mobilenetv2 --variant float32 --variant tuned --out "$tmp"
      step $Q evaluate mobilenetv2-graph --variant float32 --variant tuned --out "$tmp"
      rm -rf "$tmp"
      ;;
    parity) step $Q parity mnist ;;
    images)
      step $Q run mobilenetv2 mobilenetv2-graph
      image_tunes
      ;;
    tune)
      step $Q tune fashion-mnist --max-drop 0.002
      image_tunes
      ;;
    delivery) step $Q delivery ;;
    bench) step $Q bench; step $Q bench --analyze; step $Q bench --workers 1,2 ;;
    report) step $Q report --check ;;
  esac
done
