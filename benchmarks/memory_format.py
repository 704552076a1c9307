"""What the channels-last layout buys on the CPU (cgan.models.to_fast_layout), against the plain NCHW layout.

    python benchmarks/memory_format.py            # 20 rounds
    python benchmarks/memory_format.py --rounds 5

Times, in turn round by round in one process (benchmarks/speed.py's `in_turn`), each network in both layouts: a
training step of the CPU recipe, the evaluation classifier's features of 1,000 digits, a training step of the C2ST's
critic, and generate(64) of the bundled generator. Writes memory-format-cpu.json and .md to --out.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cgan.data import load_mnist, to_model_range  # noqa: E402
from cgan.evaluate import load_classifier  # noqa: E402
from cgan.hub import load_generator  # noqa: E402
from cgan.models import to_fast_layout  # noqa: E402
from cgan.two_sample import Critic  # noqa: E402
from machine import describe  # noqa: E402
from speed import in_turn, ratio_of, training_steps  # noqa: E402

LAYOUTS = ("nchw", "channels_last")
STEPS = 5  # training steps per timing


def in_layout(network, layout):
    """The network with its weights in this layout."""
    if layout == "channels_last":
        return to_fast_layout(network, "cpu")
    return network.to(memory_format=torch.contiguous_format)


def gan_step(images, labels, layout):
    trainer, run = training_steps("dcgan", "cpu", torch.device("cpu"), images, labels, STEPS)
    for network in (trainer.G, trainer.D, trainer.C, trainer.G_ema):
        in_layout(network, layout)
    return run


def critic_step(images, layout):
    torch.manual_seed(0)
    critic = in_layout(Critic(), layout).train()
    optimizer = torch.optim.Adam(critic.parameters(), lr=3e-3)
    x, y = to_model_range(images[:128]), (torch.arange(128) % 2).float()

    def run():
        for _ in range(STEPS):
            loss = F.binary_cross_entropy_with_logits(critic(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return run


def arm(images, labels, layout):
    classifier = in_layout(load_classifier(), layout)
    generator = load_generator()
    in_layout(generator.net, layout)

    @torch.inference_mode()
    def features():
        classifier.features(images[:1000])

    return {"a training step of the CPU recipe (batch 128)": gan_step(images, labels, layout),
            "the evaluation classifier's features of 1,000 digits": features,
            "a training step of the C2ST's critic (batch 128)": critic_step(images, layout),
            "generate(64), the bundled generator": lambda: generator.generate(3, 64, seed=1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--rounds", type=int, default=20, help="rounds timed, after one of warm-up")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        sys.exit(f"error: --rounds must be 1 or more, got {args.rounds}")
    images, labels = load_mnist(False, mnist_dir=args.mnist_dir)
    times = in_turn({layout: arm(images, labels, layout) for layout in LAYOUTS}, args.rounds, lambda: None)
    per = {part: STEPS if "step" in part else 1 for part in times}
    entry = {"machine": describe(torch.device("cpu")), "torch": torch.__version__, "rounds": args.rounds,
             "parts": {part: ratio_of(t["nchw"], t["channels_last"], per[part], LAYOUTS) for part, t in times.items()}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory-format-cpu.json").write_text(json.dumps(entry, indent=2))
    (out / "memory-format-cpu.md").write_text(report(entry))
    print(report(entry))


def report(entry):
    lines = ["What the channels-last layout buys on the CPU (cgan.models.to_fast_layout): `python "
             f"benchmarks/memory_format.py --rounds {entry['rounds']}`.", "",
             f"**CPU**: {entry['machine']}, torch {entry['torch']}", "",
             "| timed | NCHW, ms | channels-last, ms | speed-up (median of the rounds) | rounds' range |",
             "|---|---|---|---|---|"]
    for part, t in entry["parts"].items():
        lines.append(f"| {part} | {t['nchw_ms']:.1f} | {t['channels_last_ms']:.1f} | {1 / t['ratio']:.2f}x | "
                     f"{1 / t['ratio_range'][1]:.2f}-{1 / t['ratio_range'][0]:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
