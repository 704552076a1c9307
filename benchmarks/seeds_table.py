"""Does `python train.py` give a good model every time? A table of trained runs' evaluations, with mean and spread,
each run checked against its budget's bar.

    for s in 0 1 2; do python train.py --seed $s --out runs/seed$s; done
    python benchmarks/seeds_table.py runs/seed0 runs/seed1 runs/seed2

Reads each run's generator/training.json, generator/evaluation.json (written by train.py) and metrics.jsonl.
Bars per run (the test set, 1,000 samples per digit), besides no collapse in any epoch:
  quick  accuracy >= 99.5%, every digit >= 99.0%, precision >= 0.78, recall >= 0.70, training <= 15 minutes
  full   accuracy >= 99.73%, every digit >= 99.3%, FD <= 0.148, per-digit FD <= 0.353, precision >= 0.816,
         recall >= 0.813, C2ST <= 0.80, pixel TV <= 0.05, training <= 120 minutes
"""

import json
import statistics
import sys
from pathlib import Path

COLUMNS = [("accuracy", "acc", "{:.2%}"), ("accuracy_min", "worst digit", "{:.2%}"), ("fd", "FD", "{:.3f}"),
           ("fd_per_digit", "per-digit FD", "{:.3f}"), ("precision", "precision", "{:.3f}"),
           ("recall", "recall", "{:.3f}"), ("c2st", "C2ST", "{:.3f}"), ("pixel_tv", "pixel TV", "{:.3f}")]
BARS = {
    "quick": {"accuracy": 0.995, "accuracy_min": 0.99, "precision": 0.78, "recall": 0.70, "minutes": 15},
    # The model shipped before the full budget: it must be as good on every figure, and far better on fidelity.
    "full": {"accuracy": 0.9973, "accuracy_min": 0.993, "fd": 0.148, "fd_per_digit": 0.353, "precision": 0.816,
             "recall": 0.813, "c2st": 0.80, "pixel_tv": 0.05, "minutes": 120},
}
AT_MOST = {"fd", "fd_per_digit", "c2st", "pixel_tv", "minutes"}


def failures(run):
    """The parts of its budget's bar that a run misses (empty: it passes)."""
    missed = [key for key, bar in BARS[run["budget"]].items()
              if (run[key] > bar if key in AT_MOST else run[key] < bar)]
    return missed + (["collapse"] if run["diversity_min"] < 0.5 else [])


def main(folders):
    runs = []
    for folder in map(Path, folders):
        try:
            training = json.loads((folder / "generator" / "training.json").read_text())
            evaluation = json.loads((folder / "generator" / "evaluation.json").read_text())
            history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        except (OSError, ValueError) as error:  # ValueError: JSONDecodeError
            sys.exit(f"{folder} is not a finished run of train.py ({error})")
        runs.append({"seed": training["seed"], "minutes": training["minutes"], "device": training["device"],
                     "budget": training["budget"], "noise_scale": training["noise_scale"],
                     "diversity_min": min(row["diversity_min"] for row in history), **evaluation["model"]})
    columns = [column for column in COLUMNS if all(column[0] in run for run in runs)]
    lines = ["| seed | device | train minutes | noise scale | " + " | ".join(name for _, name, _ in columns) +
             " | bar |", "|---|---|---|---|" + "---|" * (len(columns) + 1)]
    for run in runs:
        missed = failures(run)
        lines.append(f"| {run['seed']} | {run['device']} | {run['minutes']:.1f} | {run['noise_scale']:g} | " +
                     " | ".join(fmt.format(run[key]) for key, _, fmt in columns) +
                     f" | {'pass' if not missed else 'FAIL: ' + ', '.join(missed)} |")
    for label, fn in [("mean", statistics.mean), ("spread (max − min)", lambda v: max(v) - min(v))]:
        lines.append(f"| {label} | | {fn([r['minutes'] for r in runs]):.1f} | | " +
                     " | ".join(fmt.format(fn([r[key] for r in runs])) for key, _, fmt in columns) + " | |")
    print("\n".join(lines))


if __name__ == "__main__":
    if not sys.argv[1:] or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    main(sys.argv[1:])
