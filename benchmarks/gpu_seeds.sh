#!/usr/bin/env bash
# The GPU budget over three seeds: `python train.py --seed S`, three side by side on one GPU (each step is
# launch-bound, so three in parallel take little longer than one), then each evaluated there, and the seeds table.
# Everything lands in $OUT (default runs/gpu): run folders (state.pt removed: only what is worth bringing back),
# logs, evaluations, seeds.md.
#
#   bash benchmarks/gpu_seeds.sh                                   # on the GPU machine
#   OUT=/tmp/trial DEVICE=cpu bash benchmarks/gpu_seeds.sh --budget gpu --limit 512 --epochs 1   # a CPU trial
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python}
mkdir -p "$OUT"
for seed in 0 1 2; do
  "$PYTHON" train.py --seed "$seed" --out "$OUT/seed$seed" --device "$DEVICE" --eval-per-digit 0 "$@" \
    > "$OUT/seed$seed.log" 2>&1 &
done
wait
for seed in 0 1 2; do
  "$PYTHON" -m cgan.evaluate --model "$OUT/seed$seed/generator" --device "$DEVICE" --save >> "$OUT/seed$seed.log" 2>&1
  rm -f "$OUT/seed$seed/state.pt"
done
"$PYTHON" benchmarks/seeds_table.py "$OUT/seed0" "$OUT/seed1" "$OUT/seed2" | tee "$OUT/seeds.md"
