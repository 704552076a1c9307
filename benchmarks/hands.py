"""How well a drawing's hand is found, and how well it carries over to the other digits. Real MNIST test digits
stand in for drawings.

    python -m benchmarks.hands                           # 1,000 test digits, the bundled model, the project's search
    python -m benchmarks.hands --n 100 --search plain    # the plain search, to compare
    python -m benchmarks.hands --model runs/default/generator
    python -m benchmarks.hands --validation               # held-out training digits: what MAX_DISTANCE is chosen on

For each test digit, its hand is found (the digit read by the classifier), then:
  match      the generator's drawing of the found hand and digit is closer to the input, in the classifier's
             features, than each of 9 random samples of that digit: the share of inputs where it is
  read       the digits 0-9 written in each found hand, read as intended by the classifier
  ink, slant Spearman's rho, over the inputs, between an input's ink (over its class's mean) or slant (less its
             class's mean) and the same of the ten digits written in its hand (their mean): does the hand carry over?
  refused    the share of inputs refused as no digit (cgan.hands: MIN_CONFIDENCE, MAX_DISTANCE), and of
             scribbles (random thick strokes, random specks): the first should be 0, the second 1 (as many
             scribbles as inputs, at most 200)
  distance   the found hand's distance to its input, in the classifier's features: median, 99th and 99.9th
             percentiles (on held-out training digits, --validation, this is what MAX_DISTANCE is chosen on)
The plain search: the best of 64 noise vectors, then 100 Adam steps on the pixels' error with a pull towards the
prior. The time a hand takes is measured in benchmarks/speed.py. Writes hands-SEARCH.json and .md to --out.
"""

import argparse
import time

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy.stats import spearmanr

from benchmarks.common import machine_line, write_results
from cgan.classifier import load_classifier
from cgan.data import load_mnist, validation_split
from cgan.hands import (MAX_DISTANCE, MIN_CONFIDENCE, SEARCH, HandFinder, Search, prepare_drawing, refusal,
                        stroke_style)
from cgan.hub import load_generator
from cgan.models import NUM_CLASSES

SEARCHES = {"project": SEARCH, "plain": Search(candidates=64, kept=1, steps=100, close_enough=0.0, learning_rate=0.05,
                                               feature_weight=0.0, pixel_weight=1.0, prior="pull", prior_weight=1.0)}
RANDOM_SAMPLES = 9
SCRIBBLES = 200  # drawings that are no digit, to see how many are refused


def relative(values, classes):
    """Each value against its class: over the class's mean for ink (a ratio), less it for slant (a difference)."""
    ink, slant = values[:, 0].clone(), values[:, 1].clone()
    for digit in classes.unique():
        mask = classes == digit
        ink[mask] = ink[mask] / ink[mask].mean()
        slant[mask] = slant[mask] - slant[mask].mean()
    return ink, slant


def find_or_refuse(finder, image):
    """(the hand of `image`, whether the app would refuse it as no digit, by cgan.hands' two rules): the hand is
    searched once, for the digit read, so that a refused drawing's distance is measured too."""
    drawing = prepare_drawing(image)
    digit, confidence = finder.read(drawing)
    hand = finder.match(drawing, digit)
    return hand, refusal(digit, confidence, hand.distance) is not None


def scribbles(n, seed=0):
    """`n` drawings that are no digit: random thick strokes over a 280x280 canvas, and random specks, by turns."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        if i % 2:
            yield (rng.random((28, 28)) < rng.uniform(0.1, 0.4)).astype(np.uint8) * 255
            continue
        canvas = Image.new("L", (280, 280))
        points = [tuple(int(v) for v in rng.integers(20, 260, 2)) for _ in range(rng.integers(8, 30))]
        ImageDraw.Draw(canvas).line(points, fill=255, width=int(rng.integers(10, 24)), joint="curve")
        yield np.asarray(canvas)


def measure(generator, classifier, images, search):
    """The figures of the module's text for uint8 digits `images`, with their hands found by `search`."""
    finder = HandFinder(generator, classifier, search)
    wins, read, written, inputs, seconds, distances, refused = 0, 0, [], [], [], [], 0
    for i, image in enumerate(images):
        start = time.perf_counter()
        hand, no_digit = find_or_refuse(finder, image.numpy())
        seconds.append(time.perf_counter() - start)
        refused += no_digit
        distances.append(hand.distance)
        rows = torch.from_numpy(generator.style_rows(1, hand=hand)[0])  # 0-9 in the hand
        with torch.inference_mode():
            target = classifier.features(image[None])
            others = classifier.features(torch.from_numpy(generator.generate(hand.digit, RANDOM_SAMPLES, seed=i)))
            mine = classifier.features(rows[hand.digit][None])
            read += int((classifier(rows).argmax(1) == torch.arange(NUM_CLASSES)).sum())
        wins += bool(((mine - target).norm() < (others - target).norm(dim=1)).all())
        written.append(stroke_style(rows))
        inputs.append((stroke_style(image), hand.digit))
    written = torch.stack(written)  # (inputs, 10, 2)
    written_ink = (written[..., 0] / written[..., 0].mean(0)).mean(1)
    written_slant = (written[..., 1] - written[..., 1].mean(0)).mean(1)
    styles, classes = torch.stack([s for s, _ in inputs]), torch.tensor([d for _, d in inputs])
    input_ink, input_slant = relative(styles, classes)
    scribbled = [find_or_refuse(finder, scribble) for scribble in scribbles(min(SCRIBBLES, len(images)))]
    return {"inputs": len(images), "match": wins / len(images), "read": read / (len(images) * NUM_CLASSES),
            "ink_rho": float(spearmanr(input_ink, written_ink).statistic),
            "slant_rho": float(spearmanr(input_slant, written_slant).statistic),
            "refused": refused / len(images), "scribbles_refused": sum(r for _, r in scribbled) / len(scribbled),
            "distance": {"median": float(np.median(distances)), "p99": float(np.percentile(distances, 99)),
                         "p99.9": float(np.percentile(distances, 99.9)), "max": float(np.max(distances))},
            "scribble_distance": {"min": float(min(h.distance for h, _ in scribbled)),
                                  "p1": float(np.percentile([h.distance for h, _ in scribbled], 1))},
            "rules": {"min_confidence": MIN_CONFIDENCE, "max_distance": MAX_DISTANCE},
            "seconds_median": float(np.median(seconds))}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hands", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="test digits (default 1,000)")
    parser.add_argument("--search", choices=sorted(SEARCHES), default="project")
    parser.add_argument("--validation", action="store_true",
                        help="held-out training digits (what MAX_DISTANCE is chosen on) in place of test digits")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.n < 10:
        parser.error(f"--n must be at least 10, got {args.n}")
    images, labels = load_mnist(not args.validation, mnist_dir=args.mnist_dir)
    if args.validation:  # the held-out digits, in the training set's order, where the digits come mixed
        images = images[validation_split(labels)[1]]
    generator = load_generator(args.model)
    digits = "held-out training" if args.validation else "test"
    result = {"machine": machine_line(), "model": str(generator.source), "search": args.search, "digits": digits,
              **measure(generator, load_classifier(), images[:args.n], SEARCHES[args.search])}
    command = f"python -m benchmarks.hands --n {args.n} --search {args.search}" + " --validation" * args.validation
    distance = result["distance"]
    table = "\n".join([
        f"# Hands found from {result['inputs']:,} MNIST {digits} digits: `{command}`", "", result["machine"], "",
        "| search | match | written digits read | ink rho | slant rho | digits refused | scribbles refused | "
        "distance: median / 99.9% / max | scribbles' least |", "|---|---|---|---|---|---|---|---|---|",
        f"| {args.search} | {result['match']:.1%} | {result['read']:.2%} | {result['ink_rho']:.3f} | "
        f"{result['slant_rho']:.3f} | {result['refused']:.1%} | {result['scribbles_refused']:.1%} | "
        f"{distance['median']:.2f} / {distance['p99.9']:.2f} / {distance['max']:.2f} | "
        f"{result['scribble_distance']['min']:.2f} |", ""])
    name = f"hands-{args.search}" + "-validation" * args.validation
    write_results(args.out, name, result, table)


if __name__ == "__main__":
    main()
