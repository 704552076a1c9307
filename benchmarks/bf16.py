"""What bf16 autocast buys a training step on this CPU, against fp32: the trainer uses it where the CPU has AMX.

    python benchmarks/bf16.py              # 10 rounds, the CPU and GPU budgets' recipes
    python benchmarks/bf16.py --rounds 3 --recipes dcgan-quick

Times in turn, round by round in one process (benchmarks/speed.py's `in_turn`), training steps of each recipe three
ways: in fp32 (`train.py --no-bf16`), under bf16 autocast with every network in the plain NCHW layout, and as the
trainer runs bf16 on a CPU (D and the classifier channels-last). Writes bf16-cpu.json and .md to --out.
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cgan.data import load_mnist  # noqa: E402
from cgan.device import native_bf16  # noqa: E402
from cgan.device import describe  # noqa: E402
from speed import in_turn, ratio_of, recipes_named, training_steps, write_results  # noqa: E402

STEPS = 5  # training steps per timing
ARMS = ("fp32", "bf16_nchw", "bf16")
LABELS = {"fp32": "fp32", "bf16_nchw": "bf16, all NCHW", "bf16": "bf16, D and classifier channels-last"}


def arm(arch, budget, images, labels, name):
    trainer, run = training_steps(arch, budget, torch.device("cpu"), images, labels, STEPS, bf16=name != "fp32")
    if name == "bf16_nchw":
        for network in (trainer.D, trainer.C):
            if network is not None:
                network.to(memory_format=torch.contiguous_format)
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--rounds", type=int, default=10, help="rounds timed, after one of warm-up")
    parser.add_argument("--recipes", default="dcgan-quick,dcgan-full", help="comma-separated, as speed.py takes them")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        sys.exit(f"error: --rounds must be 1 or more, got {args.rounds}")
    recipes = recipes_named(args.recipes)
    images, labels = load_mnist(True, mnist_dir=args.mnist_dir)
    entry = {"machine": describe(torch.device("cpu")), "torch": torch.__version__, "rounds": args.rounds,
             "native_bf16": native_bf16(torch.device("cpu")), "steps_per_round": STEPS, "recipes": {}}
    for arch, budget in recipes:
        arms = {a: {"step": arm(arch, budget, images, labels, a)} for a in ARMS}
        times = in_turn(arms, args.rounds, lambda: None)["step"]
        entry["recipes"][f"{arch}-{budget}"] = {a: ratio_of(times["fp32"], times[a], STEPS, ("fp32", a))
                                                for a in ARMS[1:]}
    write_results(args.out, "bf16-cpu", entry, report(entry))


def report(entry):
    lines = [f"What bf16 autocast buys a training step on the CPU: `python benchmarks/bf16.py --rounds "
             f"{entry['rounds']}`.", "",
             f"**CPU**: {entry['machine']}, torch {entry['torch']}; bf16 in hardware (AMX): "
             f"{'yes' if entry['native_bf16'] else 'no'}", "",
             "| recipe | timed | ms per step | speed-up over fp32 (median of the rounds) | rounds' range |",
             "|---|---|---|---|---|"]
    for name, result in entry["recipes"].items():
        first = next(iter(result.values()))
        lines.append(f"| {name} | {LABELS['fp32']} | {first['fp32_ms']:.1f} | 1 | |")
        for a, t in result.items():
            lines.append(f"| {name} | {LABELS[a]} | {t[f'{a}_ms']:.1f} | {1 / t['ratio']:.2f}x | "
                         f"{1 / t['ratio_range'][1]:.2f}-{1 / t['ratio_range'][0]:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
