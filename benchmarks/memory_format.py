"""What the channels-last layout buys on the CPU (cgan.models.to_fast_layout), against the plain NCHW layout.

    python benchmarks/memory_format.py            # 20 rounds
    python benchmarks/memory_format.py --rounds 5

Times, in turn round by round in one process (benchmarks/speed.py's `in_turn`), each network in both layouts: a
training step of the CPU recipe, the evaluation classifier's features of 1,000 digits, a training step of the C2ST's
critic, and generate(64) of the bundled generator. Writes memory-format-cpu.json and .md to --out.
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cgan.data import load_mnist, to_model_range  # noqa: E402
from cgan.evaluate import load_classifier  # noqa: E402
from cgan.hub import load_generator  # noqa: E402
from cgan.models import to_fast_layout  # noqa: E402
from cgan.two_sample import CRITIC_LR, Critic, critic_step  # noqa: E402
from cgan.device import describe  # noqa: E402
from speed import in_turn, ratio_of, training_steps, write_results  # noqa: E402

LAYOUTS = ("nchw", "channels_last")
STEPS = 5  # training steps per timing
GAN_STEP = "a training step of the CPU recipe (batch 128)"
CRITIC_STEP = "a training step of the C2ST's critic (batch 128)"


def in_layout(network, layout):
    """The network with its weights in this layout."""
    if layout == "channels_last":
        return to_fast_layout(network, "cpu")
    return network.to(memory_format=torch.contiguous_format)


def gan_step(images, labels, layout):
    # In fp32, as the trainer ran before bf16 on CPUs with AMX (benchmarks/bf16.py times that).
    trainer, run = training_steps("dcgan", "quick", torch.device("cpu"), images, labels, STEPS, bf16=False)
    for network in (trainer.G, trainer.D, trainer.C, trainer.G_ema):
        in_layout(network, layout)
    return run


def critic_steps(images, layout):
    torch.manual_seed(0)
    critic = in_layout(Critic(), layout).train()
    optimizer = torch.optim.Adam(critic.parameters(), lr=CRITIC_LR)
    x, y = to_model_range(images[:128]), torch.arange(128) % 2 == 1

    def run():
        for _ in range(STEPS):
            critic_step(critic, optimizer, x, y)
    return run


def arm(images, labels, layout):
    classifier = in_layout(load_classifier(), layout)
    generator = load_generator()
    in_layout(generator.net, layout)

    @torch.inference_mode()
    def features():
        classifier.features(images[:1000])

    return {GAN_STEP: gan_step(images, labels, layout),
            "the evaluation classifier's features of 1,000 digits": features,
            CRITIC_STEP: critic_steps(images, layout),
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
    per = {part: STEPS if part in (GAN_STEP, CRITIC_STEP) else 1 for part in times}
    entry = {"machine": describe(torch.device("cpu")), "torch": torch.__version__, "rounds": args.rounds,
             "parts": {part: ratio_of(t["nchw"], t["channels_last"], per[part], LAYOUTS) for part, t in times.items()}}
    write_results(args.out, "memory-format-cpu", entry, report(entry))


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
