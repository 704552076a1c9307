"""What the generator does beyond one digit, measured on the bundled model (or --model):

    python -m benchmarks.features

  numbers    share of the digits of 1,000 written numbers (8 random digits each) that the evaluation classifier
             reads as intended when cut out again at their known place
  hands      for style_rows (3 seeds of 100 rows): mean distance between the digits of one row / between digits
             of different rows, each digit's class mean removed, in the classifier's features and in ink and slant;
             below 1 a row shares a hand. The control: the same digits with each column's rows shuffled
  morphs     largest step between consecutive frames / the median step, over 100 morphs of 24 frames
  neatness   accuracy and recall (python -m cgan.evaluate, 1,000 samples per digit) at noise scale 0.5 and at the
             model's own

Writes features.json and features.md to --out.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import write_results
from cgan.classifier import load_classifier
from cgan.evaluate import evaluate, shown_source
from cgan.hands import hand_ratio, number_readback, shared_hand
from cgan.hub import load_generator


def shuffled_control(generator, classifier, rows=100, seed=0):
    images = torch.from_numpy(generator.style_rows(rows, seed))
    rng = torch.Generator().manual_seed(seed)
    shuffled = torch.stack([images[torch.randperm(rows, generator=rng), d] for d in range(10)], dim=1)
    with torch.inference_mode():
        features = classifier.features(shuffled.reshape(-1, 28, 28)).reshape(rows, 10, -1)
    return hand_ratio(features)


def morph_steps(generator, morphs=100, frames=24, seed=0):
    rng = np.random.default_rng(seed)
    worst = []
    for i in range(morphs):
        digit, to_digit = rng.integers(0, 10, 2)
        to_seed = None if i % 2 else int(rng.integers(0, 2**32))  # half between digits, half between hands too
        movie = generator.morph(int(digit), int(to_digit), int(rng.integers(0, 2**32)), to_seed, frames)
        steps = np.linalg.norm(np.diff(movie.reshape(frames, -1).astype(float), axis=0), axis=1)
        worst.append(float(steps.max() / np.median(steps)) if np.median(steps) > 0 else 1.0)
    return max(worst), float(np.median(worst))


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.features", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    generator, classifier = load_generator(args.model), load_classifier()
    hands = [shared_hand(generator, classifier, 100, seed) for seed in range(3)]
    neat = {scale: evaluate(args.model, 1000, mnist_dir=args.mnist_dir, noise_scale=scale, two_sample=False)["model"]
            for scale in (0.5, None)}
    result = {
        "model": shown_source(generator.source), "noise_scale": generator.noise_scale,
        "number_readback": number_readback(generator, classifier, 1000, 8, seed=0),
        "hand_ratio_classifier_features": [h["classifier_features"] for h in hands],
        "hand_ratio_ink_and_slant": [h["ink_and_slant"] for h in hands],
        "hand_ratio_shuffled_control": shuffled_control(generator, classifier),
        "morph_max_step_over_median": morph_steps(generator),
        "neatness": {str(scale or generator.noise_scale): {k: neat[scale][k] for k in ("accuracy", "recall",
                                                                                      "precision", "fd")}
                     for scale in neat},
    }
    worst, typical = result["morph_max_step_over_median"]
    own, half = result["neatness"][str(generator.noise_scale)], result["neatness"]["0.5"]
    lines = [f"`python -m benchmarks.features`, model `{Path(str(generator.source)).name}`.", "",
             "| what | measured | bar |", "|---|---|---|",
             f"| digits of written numbers read as intended (1,000 numbers of 8) | {result['number_readback']:.2%} | "
             f"≥ 99% |",
             "| one hand across 0-9: within-row / between-row distance, classifier features (3 seeds) | " +
             " / ".join(f"{r:.3f}" for r in result["hand_ratio_classifier_features"]) +
             f" (rows shuffled: {result['hand_ratio_shuffled_control']:.3f}) | < 1 |",
             "| the same in ink and slant | " + " / ".join(f"{r:.2f}" for r in result["hand_ratio_ink_and_slant"]) +
             " | < 1 |",
             f"| morphs: largest step / median step (worst of 100; median morph) | {worst:.2f} ({typical:.2f}) | ≤ 3 |",
             f"| noise scale 0.5 against the model's own ({generator.noise_scale:g}): accuracy | {half['accuracy']:.2%} "
             f"against {own['accuracy']:.2%} | not lower |",
             f"| the same: recall | {half['recall']:.3f} against {own['recall']:.3f} | lower |"]
    write_results(args.out, "features", result, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
