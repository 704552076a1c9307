#!/usr/bin/env bash
# The GPU budget over three seeds: the plain `python train.py --seed S`, three side by side on one GPU (each step is
# launch-bound, so three in parallel take little longer than one); each run evaluates itself at its end (on the GPU),
# then the seeds table. Everything lands in $OUT (default runs/gpu): run folders (state.pt removed: only what is
# worth bringing back; an unfinished run keeps it), logs, seeds.md.
#
#   bash benchmarks/gpu_seeds.sh                                                  # on the GPU machine
#   OUT=/tmp/trial bash benchmarks/gpu_seeds.sh --device cpu --budget gpu --limit 512 --epochs 1 --eval-per-digit 20
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}
PYTHON=${PYTHON:-python}
mkdir -p "$OUT"
for seed in 0 1 2; do
  "$PYTHON" train.py --seed "$seed" --out "$OUT/seed$seed" "$@" > "$OUT/seed$seed.log" 2>&1 &
done
wait
# A finished run's state.pt is only bulk; an unfinished one (stopped by Ctrl-C or a deadline) keeps it to --resume.
for seed in 0 1 2; do
  if [ -f "$OUT/seed$seed/generator/model.safetensors" ]; then rm -f "$OUT/seed$seed/state.pt"; fi
done
"$PYTHON" benchmarks/seeds_table.py "$OUT/seed0" "$OUT/seed1" "$OUT/seed2" | tee "$OUT/seeds.md"
