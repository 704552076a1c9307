"""Reliability across seeds: a table of trained runs' evaluations, with mean and spread, checked against the bar.

    for s in 0 1 2; do python train.py --seed $s --out runs/seed$s; done
    python benchmarks/seeds_table.py runs/seed0 runs/seed1 runs/seed2

Reads each run's generator/training.json and generator/evaluation.json (written by train.py).
Bar per run: accuracy >= 99%, every digit >= 97%, recall >= 0.6, per-digit FD <= 3x the best run's.
"""

import json
import statistics
import sys
from pathlib import Path

COLUMNS = [("accuracy", "acc", "{:.2%}"), ("accuracy_min", "worst digit", "{:.2%}"), ("fd", "FD", "{:.3f}"),
           ("fd_per_digit", "per-digit FD", "{:.3f}"), ("precision", "precision", "{:.3f}"),
           ("recall", "recall", "{:.3f}")]


def main(folders):
    runs = []
    for folder in map(Path, folders):
        training = json.loads((folder / "generator" / "training.json").read_text())
        evaluation = json.loads((folder / "generator" / "evaluation.json").read_text())
        runs.append({"seed": training["seed"], "minutes": training["minutes"],
                     "device": training["device"], **evaluation["model"]})
    best_fd = min(run["fd_per_digit"] for run in runs)
    lines = ["| seed | device | train minutes | " + " | ".join(name for _, name, _ in COLUMNS) + " | bar |",
             "|---|---|---|" + "---|" * (len(COLUMNS) + 1)]
    for run in runs:
        passed = (run["accuracy"] >= 0.99 and run["accuracy_min"] >= 0.97 and run["recall"] >= 0.6
                  and run["fd_per_digit"] <= 3 * best_fd)
        lines.append(f"| {run['seed']} | {run['device']} | {run['minutes']:.1f} | " +
                     " | ".join(fmt.format(run[key]) for key, _, fmt in COLUMNS) + f" | {'pass' if passed else 'FAIL'} |")
    for label, fn in [("mean", statistics.mean), ("spread (max − min)", lambda v: max(v) - min(v))]:
        lines.append(f"| {label} | | {fn([r['minutes'] for r in runs]):.1f} | " +
                     " | ".join(fmt.format(fn([r[key] for r in runs])) for key, _, fmt in COLUMNS) + " | |")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:] or sys.exit(__doc__))
