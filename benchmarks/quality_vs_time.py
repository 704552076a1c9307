"""Quality against training time: train an architecture epoch by epoch and score it after each one.

    python benchmarks/quality_vs_time.py      # both architectures, each with its default recipe

Each epoch is a resumed run of the real training code (`--resume`), so what is timed is exactly `train.py`'s
loop; the clock is the sum of the epochs' training seconds, evaluation and reloading excluded. Writes
quality.json, quality.md (a table) and quality.png (the metrics against minutes) to --out.
"""

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cgan.data import load_mnist  # noqa: E402
from cgan.evaluate import Evaluator, load_classifier, real_sample  # noqa: E402
from cgan.recipe import RECIPES  # noqa: E402
from cgan.training import TrainConfig, train  # noqa: E402
from cgan.device import describe  # noqa: E402

METRICS = [("accuracy", "conditional accuracy"), ("accuracy_min", "worst digit accuracy"), ("fd", "Fréchet distance"),
           ("fd_per_digit", "per-digit FD"), ("precision", "precision"), ("recall", "recall")]


def run(arch, epochs, seed, out, evaluator, n_per_digit, mnist_dir):
    rows = []
    for epoch in range(1, epochs + 1):
        config = TrainConfig(arch=arch, epochs=epoch, seed=seed, out=str(out / f"{arch}-seed{seed}"),
                             mnist_dir=mnist_dir, resume=epoch > 1, device="cpu")
        generator, trainer = train(config, log=lambda *_: None, progress=False)
        scores = evaluator.score_generator(generator, n_per_digit, seed=1000)
        seconds = sum(row["seconds"] for row in trainer.watch.history)
        rows.append({"epoch": epoch, "seconds": seconds, **{k: scores[k] for k, _ in METRICS},
                     "diversity_min": trainer.watch.history[-1]["diversity_min"]})
        print(f"{arch} epoch {epoch}: {seconds / 60:.1f} min  " +
              "  ".join(f"{k} {scores[k]:.4g}" for k, _ in METRICS), flush=True)
    return rows


def cpu_epochs(arch):
    """The epochs of `arch`'s CPU recipe: the runs here train on the CPU."""
    return RECIPES[(arch, "quick")].epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", action="append", help="repeat for several (default: dcgan and seed)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: each arch's CPU recipe (the same CPU time for both: see cgan/recipe.py)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-per-digit", type=int, default=500)
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--out", default="benchmarks/results/quality")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    evaluator = Evaluator(load_classifier(), *load_mnist(False, mnist_dir=args.mnist_dir))
    real = evaluator.score(*real_sample(*load_mnist(True, mnist_dir=args.mnist_dir), args.n_per_digit))
    results = {"machine": f"{describe()}, torch {torch.__version__}",
               "n_per_digit": args.n_per_digit, "real": {k: real[k] for k, _ in METRICS}, "runs": {}}
    for arch in args.arch or ["dcgan", "seed"]:
        epochs = args.epochs or cpu_epochs(arch)
        results["runs"][arch] = run(arch, epochs, args.seed, out, evaluator, args.n_per_digit, args.mnist_dir)
        (out / "quality.json").write_text(json.dumps(results, indent=2))
    write_report(results, out)


def write_report(results, out):
    """quality.md (a table) and quality.png (each metric against training minutes) from the results."""
    lines = [f"Machine: {results['machine']}. {results['n_per_digit']} samples per digit.", "",
             "| arch | epoch | minutes | " + " | ".join(name for _, name in METRICS) + " |",
             "|---|---|---|" + "---|" * len(METRICS)]
    for arch, rows in results["runs"].items():
        for row in rows:
            lines.append(f"| {arch} | {row['epoch']} | {row['seconds'] / 60:.1f} | " +
                         " | ".join(f"{row[k]:.4f}" if k.startswith(("acc", "prec", "rec")) else f"{row[k]:.2f}"
                                    for k, _ in METRICS) + " |")
    lines.append("| real data | | | " + " | ".join(f"{results['real'][k]:.4f}" for k, _ in METRICS) + " |")
    (out / "quality.md").write_text("\n".join(lines) + "\n")

    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (key, name) in zip(axes.flat, METRICS, strict=False):
        for arch, rows in results["runs"].items():
            ax.plot([r["seconds"] / 60 for r in rows], [r[key] for r in rows], marker="o", label=arch)
        ax.axhline(results["real"][key], color="grey", linestyle="--", label="real data")
        ax.set_title(name)
        ax.set_xlabel("training minutes")
        if key.startswith("fd"):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes.flat[0].legend()
    fig.suptitle(f"Quality against training time ({results['machine']})")
    fig.tight_layout()
    fig.savefig(out / "quality.png", dpi=90)
    print((out / "quality.md").read_text())


if __name__ == "__main__":
    main()
