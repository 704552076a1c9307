"""How well a drawing's hand is found, and how well it carries over to the other digits, graded twice: in the
evaluation classifier's features, which the search itself moves in (its own figures), and by an independent judge
the search never sees (benchmarks/judge: another network, another seed, trained apart). Real MNIST digits stand in
for drawings, as they are and redrawn as a canvas gives them (benchmarks/canvas.py).

    python -m benchmarks.hands                   # 1,000 test digits, the bundled model: the README's figures
    python -m benchmarks.hands --validation --save    # held-out training digits: the model's thresholds chosen
    python -m benchmarks.hands --validation --compare    # ... and the searches of SEARCHES side by side
    python -m benchmarks.hands --model runs/default/generator --n 200
    python -m benchmarks.hands --time --n 100      # only find_hand + 2026's time (on a quiet machine): the README's

Digits as drawings: each digit's hand is found (the digit read), 2026 written in it, the digits 0-9 written in it:
  match      the generator's drawing of the found hand and digit is closer to the input than each of 9 random
             samples of that digit: the share of inputs where it is. Own: in the classifier's 128 features.
             Judge: in the judge's 80 features
  read       the digits 0-9 written in each found hand, read as intended. Own: by the classifier. Judge: by the judge
  ink, slant Spearman's rho, over the inputs, between an input's ink (over its class's mean) or slant (less its
             class's mean) and the mean of the same over the ten digits written in its hand (each over or less its
             column's mean): does the hand carry over? Own: ink and slant measured on the pixels
             (cgan.hands.stroke_style: the ink's sum, the shear of its second moments), the pixels the search fits
             in the digit it draws. Judge: ink and slant as the judge reads them from its 80 features (its read-out
             network, trained on the training digits' stroke_style: benchmarks/judge)
  refused    the share of inputs the app would refuse (cgan.hands' rules), and of scribbles (random thick strokes,
             random specks: as many as inputs, at most 200): the first should be 0, the second 1
  distance   the found hand's distance to its input in the classifier's features: median, 99.9th percentile, most
  time       find_hand and 2026 written in the hand, the median over the inputs: provisional (only a quiet
             machine's figure counts: --time measures that alone, as the app does it, on --n test digits)
Drawings as a canvas gives them (benchmarks.canvas, the same digits redrawn, no digit given):
  read       the share read as their digit (neither refused nor misread)
  refused    the share refused, and why (cgan.hands.CAUSES); as much for canvas scribbles (as many as inputs, at
             most 200) and for two digits drawn side by side (as many, at most 100)
With --validation the judge is not asked (nothing is chosen by looking at it), and the model's thresholds
(cgan.hands.Thresholds) are worked out from the held-out digits: min_confidence refuses no more than DOUBTED, and
max_stroke, max_length and max_holes no more than FAR (those with the widest strokes, the longest, the most holes),
of every held-out digit (--unsearched, all 5,000 unless told) as drawn, nor of them redrawn as canvases, nor of the
model's own digits: reading and shapes need no search. max_distance refuses FAR of the --n digits searched, as drawn
and on canvases (those furthest from the closest the model writes). --save writes them
beside the model's weights (cgan.hands.THRESHOLDS_FILE), where find_hand takes them from for those weights. --compare
measures each search of SEARCHES with the figures it is chosen by (own match against 99 random samples, in features
and in blurred pixels; ink and slant rho; the search's CPU time). Writes hands-SEARCH.json and .md (-validation,
-compare) to --out.
"""

import argparse
import collections
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy.stats import spearmanr

from benchmarks.canvas import canvas_drawing, canvas_row, canvas_scribble
from benchmarks.common import machine_line, write_results
from cgan.classifier import BUNDLED_READER, load_classifier
from cgan.data import load_mnist, validation_split
from cgan.hands import (SEARCH, THRESHOLDS_FILE, HandFinder, Refusal, Search, holes, ink_crop, mnist_layout,
                        stroke_length, stroke_style, stroke_width, strokes)
from cgan.hub import is_local, load_generator, weights_sha256
from cgan.models import NUM_CLASSES

SEARCHES = {"project": SEARCH, "plain": Search(candidates=64, kept=1, steps=100, close_enough=0.0, learning_rate=0.05,
                                               feature_weight=0.0, pixel_weight=1.0, prior="pull", prior_weight=1.0)}
RANDOM_SAMPLES = 9
SCRIBBLES = 200  # drawings that are no digit, to see how many are refused
ROWS = 100  # two digits side by side, to see how many are refused as such
DOUBTED = 0.005  # the most of the held-out digits (as drawn, and as canvases) min_confidence is chosen to refuse ...
FAR = 0.001  # ... and max_distance, max_stroke, max_length and max_holes each
NUMBER = "2026"  # what is written in each found hand, as the app does
OWN_SEED, OWN_HANDS = 4242, 500  # the model's own digits the shape thresholds take too (--validation): 5,000, as the
# tail is long (the widest 0.1% of the first 500 begin at 5.3 px, of 1,000-5,000 at 6.6-6.7)


def relative(values, classes):
    """Each value against its class: over the class's mean for ink (a ratio), less it for slant (a difference)."""
    ink, slant = values[:, 0].clone(), values[:, 1].clone()
    for digit in classes.unique():
        mask = classes == digit
        ink[mask] = ink[mask] / ink[mask].mean()
        slant[mask] = slant[mask] - slant[mask].mean()
    return ink, slant


def carried_over(inputs, written, classes):
    """(ink rho, slant rho): inputs' (N, 2) ink and slant against those of the ten digits written in their hands
    (N, 10, 2), as the module's text says."""
    written_ink = (written[..., 0] / written[..., 0].mean(0)).mean(1)
    written_slant = (written[..., 1] - written[..., 1].mean(0)).mean(1)
    input_ink, input_slant = relative(inputs, classes)
    return float(spearmanr(input_ink, written_ink).statistic), float(spearmanr(input_slant, written_slant).statistic)


def found(finder, image):
    """(the hand of `image`, the reader's confidence in the digit it reads, why the app would refuse the drawing
    (a Refusal, as find_hand raises it) or None): the hand is searched for the digit read whatever the refusal, so
    that a refused drawing's distance is measured too."""
    return finder.attempt(image, search_refused=True)


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


def graded(look, images, hand_drawings, samples, rows, classes):
    """The match, read and ink and slant figures of one pair of eyes: `look(uint8 digits)` -> (features, digits read,
    ink and slant (N, 2)). `images` the inputs (N, 28, 28), `hand_drawings` their hands' drawings of their digits,
    `samples` (N, 9, 28, 28) random samples of those digits, `rows` (N, 10, 28, 28) the digits 0-9 in each hand."""
    n = len(images)
    wanted, _, input_style = look(images)
    mine, _, _ = look(hand_drawings)
    others, _, _ = look(samples.reshape(-1, 28, 28))
    _, read, written_style = look(rows.reshape(-1, 28, 28))
    others = others.reshape(n, RANDOM_SAMPLES, -1)
    closer = (mine - wanted).norm(dim=1)[:, None] < (others - wanted[:, None]).norm(dim=2)
    ink_rho, slant_rho = carried_over(input_style, written_style.reshape(n, NUM_CLASSES, 2), classes)
    return {"match": float(closer.all(1).float().mean()),
            "read": float((read.reshape(n, NUM_CLASSES) == torch.arange(NUM_CLASSES)).float().mean()),
            "ink_rho": ink_rho, "slant_rho": slant_rho}


def classifier_eyes(classifier):
    """The evaluation classifier as `graded` asks of a pair of eyes, its ink and slant the pixels' own."""
    def look(images):
        with torch.inference_mode():
            features = classifier.features(images)
            return features, classifier.head(features).argmax(1), stroke_style(images.numpy())
    return look


def hands(generator, finder, images, judge=None):
    """The figures of the module's text for uint8 digits `images` as drawings; the judge's too, unless `judge` is
    None."""
    seconds, distances, refused, hand_drawings, samples, rows, classes = [], [], 0, [], [], [], []
    for i, image in enumerate(images):
        start = time.perf_counter()
        hand, _, reason = found(finder, image.numpy())
        generator.write_number(NUMBER, hand=hand)
        seconds.append(time.perf_counter() - start)
        refused += reason is not None
        distances.append(hand.distance)
        rows.append(torch.from_numpy(generator.style_rows(1, hand=hand)[0]))  # 0-9 in the hand
        hand_drawings.append(rows[-1][hand.digit])
        samples.append(torch.from_numpy(generator.generate(hand.digit, RANDOM_SAMPLES, seed=i)))
        classes.append(hand.digit)
    hand_drawings, samples, rows, classes = (torch.stack(hand_drawings), torch.stack(samples), torch.stack(rows),
                                             torch.tensor(classes))
    result = {"inputs": len(images),
              "own": graded(classifier_eyes(finder.classifier), images, hand_drawings, samples, rows, classes)}
    if judge is not None:
        result["judge"] = graded(judge.look, images, hand_drawings, samples, rows, classes)
    scribbled = [found(finder, scribble) for scribble in scribbles(min(SCRIBBLES, len(images)))]
    return {**result, "refused": refused / len(images),
            "scribbles_refused": sum(reason is not None for *_, reason in scribbled) / len(scribbled),
            "distance": spread(distances), "scribble_distance": {"min": min(hand.distance for hand, *_ in scribbled)},
            "seconds_median": float(np.median(seconds)),
            "seen": {"distances": distances,
                     "scribbles": [(hand.distance, confidence) for hand, confidence, _ in scribbled]}}


def spread(values):
    return {"median": float(np.median(values)), "p99.9": float(np.percentile(values, 99.9)),
            "max": float(np.max(values))}


def canvases(finder, images, labels, seed=0):
    """The canvas figures of the module's text for uint8 digits `images` of `labels`, drawn on canvases."""
    rng = np.random.default_rng(seed)
    n = len(images)
    drawn = [found(finder, canvas_drawing(image, rng)) for image in images.numpy()]
    scribbled = [found(finder, canvas_scribble(rng)) for _ in range(min(SCRIBBLES, n))]
    pairs = images[:2 * min(ROWS, n // 2)].numpy()
    rows = [found(finder, canvas_row(pairs[i:i + 2], rng)) for i in range(0, len(pairs), 2)]

    def why(results):
        causes = collections.Counter(reason.cause for *_, reason in results if reason is not None)
        return {cause: count / len(results) for cause, count in sorted(causes.items())}
    return {"inputs": n, "read": float(np.mean([reason is None and hand.digit == label
                                                for (hand, _, reason), label in zip(drawn, labels.tolist())])),
            "refused": float(np.mean([reason is not None for *_, reason in drawn])), "refused_why": why(drawn),
            "distance": spread([hand.distance for hand, *_ in drawn]),
            "scribbles_refused": sum(why(scribbled).values()), "scribbles_refused_why": why(scribbled),
            "rows_refused": sum(why(rows).values()), "rows_refused_why": why(rows),
            "seen": {"distances": [hand.distance for hand, *_ in drawn],
                     "scribbles": [(hand.distance, confidence) for hand, confidence, _ in scribbled]}}


def shape(image):
    """(the width of a drawing's strokes, their length, the holes they enclose), as cgan.hands measures them."""
    return crop_shape(ink_crop(image)[0])


def crop_shape(crop):
    """`shape` of a drawing's ink cropped to its box (ink_crop)."""
    ink = strokes(crop)
    return stroke_width(ink), stroke_length(ink), holes(ink)


def unsearched(finder, images, seed=1):
    """{"drawn": ..., "canvas": ...}: the reader's confidence in the digit it reads and the shape (`shape`) of
    each uint8 digit of `images` as drawn and redrawn as a canvas (canvases of `seed`, not those of `canvases`): what
    the thresholds that need no search are worked out from."""
    rng = np.random.default_rng(seed)
    out = {}
    for kind, drawings in (("drawn", images.numpy()), ("canvas", (canvas_drawing(image, rng)
                                                                   for image in images.numpy()))):
        crops = (ink_crop(drawing)[0] for drawing in drawings)  # once each: a canvas is up to 800x800
        seen = [(finder.read(mnist_layout(crop))[1], crop_shape(crop)) for crop in crops]
        out[kind] = {"confidences": np.array([confidence for confidence, _ in seen]),
                     "shapes": np.array([measured for _, measured in seen])}
    return out


def thresholds(result, every, now, own):
    """The model's thresholds (cgan.hands.Thresholds) worked out on held-out digits, beside those it has (`now`):
    min_confidence refuses no more than DOUBTED, and max_stroke, max_length and max_holes no more than FAR each, of
    `every` held-out digit as drawn and of them redrawn as canvases (`unsearched`), nor the shapes of the model's
    `own` digits (uint8); max_distance refuses FAR of the digits searched in `result`, as drawn and on canvases
    pooled (a 0.1% tail of 500 of one kind would be its largest value). And the share of scribbles (of both kinds) the
    first two refuse at each. Each kind apart, as pooled a quantile refused twice as many canvases as drawn digits;
    every digit, as reading and shapes need no search (E45). A bold digit the model writes is a digit, and people
    draw bolder on a canvas than MNIST's writers did on paper (the 99.9th percentile of held-out digits, 5.2 px,
    refused a 7 drawn with the app's pen, and 1% of the model's own digits)."""
    distances = result["seen"]["distances"] + result["canvas"]["seen"]["distances"]
    scribbled = np.array(result["seen"]["scribbles"] + result["canvas"]["seen"]["scribbles"])  # (distance, confidence)
    shapes = [every["drawn"]["shapes"], every["canvas"]["shapes"], np.array([shape(image) for image in own])]

    def beyond(column):  # the least value no more than FAR of any kind lies beyond
        return max(float(np.quantile(kind[:, column], 1 - FAR)) for kind in shapes)
    chosen = {"min_confidence": min(float(np.quantile(kind["confidences"], DOUBTED)) for kind in every.values()),
              "max_distance": float(np.quantile(distances, 1 - FAR)), "max_stroke": beyond(0),
              "max_length": beyond(1), "max_holes": int(np.ceil(beyond(2)))}

    def scribbles_refused(limits):
        return float(np.mean((scribbled[:, 1] < limits["min_confidence"]) | (scribbled[:, 0] > limits["max_distance"])))
    return {"now": dataclasses.asdict(now), "chosen": chosen,
            "stroke_median": float(np.median(np.concatenate([kind[:, 0] for kind in shapes[:2]]))),
            "held_out": len(every["drawn"]["confidences"]),
            "scribbles_refused": {"now": scribbles_refused(dataclasses.asdict(now)),
                                  "chosen": scribbles_refused(chosen)}}


def save_thresholds(source, chosen, command):
    """Writes `chosen` thresholds beside the weights of the model in local folder `source`, for those weights and
    the bundled reader's."""
    if not is_local(source):
        raise SystemExit(f"--save writes into a model folder: {source} is a Hub repo, not a local folder")
    path = Path(source).expanduser() / THRESHOLDS_FILE
    path.write_text(json.dumps({**chosen, "weights_sha256": weights_sha256(source),
                                "reader_sha256": weights_sha256(BUNDLED_READER), "command": command}, indent=2))
    print(f"wrote {path}")


def timed(generator, images):
    """find_hand (the digit read) and NUMBER written in the hand, as the app does for a drawing, on uint8 digits
    `images`: the median and 90th percentile of the seconds, and the share refused (timed too)."""
    generator.find_hand(images[0])  # loads the reader and the classifier, as the app's first drawing does
    seconds, refused = [], 0
    for image in images:
        start = time.perf_counter()
        try:
            generator.write_number(NUMBER, hand=generator.find_hand(image))
        except Refusal:
            refused += 1
        seconds.append(time.perf_counter() - start)
    return {"inputs": len(images), "seconds_median": float(np.median(seconds)),
            "seconds_p90": float(np.percentile(seconds, 90)), "refused": refused / len(images)}


def compared(generator, classifier, images, searches, samples=99):
    """Each search's figures on uint8 `images` as it is chosen by: the share of `samples` random samples of the
    input's digit closer to the input than the found hand's drawing (in the classifier's features, and in pixels
    blurred by a Gaussian of 1 pixel: lower is better), own ink and slant rho, the search's CPU seconds (median)."""
    blurred = torch.nn.Conv2d(1, 1, 7, padding=3, bias=False).requires_grad_(False)
    kernel = torch.exp(-torch.arange(-3.0, 4.0) ** 2 / 2)
    blurred.weight.copy_((kernel[:, None] * kernel[None, :] / kernel.sum() ** 2)[None, None])
    out = {}
    for name, search in searches.items():
        finder = HandFinder(generator, classifier, search)
        closer, cpu, rows, classes = {"features": [], "pixels": []}, [], [], []
        for i, image in enumerate(images):
            start = time.process_time()
            hand, *_ = found(finder, image.numpy())
            cpu.append(time.process_time() - start)
            rows.append(torch.from_numpy(generator.style_rows(1, hand=hand)[0]))
            classes.append(hand.digit)
            these = torch.cat([image[None], rows[-1][hand.digit][None],
                               torch.from_numpy(generator.generate(hand.digit, samples, seed=10_000 + i))])
            with torch.inference_mode():
                for space, seen in (("features", classifier.features(these)),
                                    ("pixels", blurred(these[:, None].float() / 255).flatten(1))):
                    distance = (seen[1:] - seen[0]).norm(dim=1)
                    closer[space].append(float((distance[1:] < distance[0]).float().mean()))
        ink_rho, slant_rho = carried_over(stroke_style(images.numpy()), stroke_style(torch.stack(rows).numpy()),
                                          torch.tensor(classes))
        out[name] = {"closer_in_features": float(np.mean(closer["features"])),
                     "closer_in_pixels": float(np.mean(closer["pixels"])), "ink_rho": ink_rho,
                     "slant_rho": slant_rho, "cpu_seconds_median": float(np.median(cpu)),
                     "search": dataclasses.asdict(search)}
    return out


def table(result, command):
    """The markdown of a result."""
    lines = [f"# Hands found from {result['inputs']:,} MNIST {result['digits']} digits: `{command}`", "",
             result["machine"], "", "Digits as drawings:", "",
             "| search | graded by | match | written digits read | ink rho | slant rho |", "|---|---|---|---|---|---|"]
    for eyes, name in (("own", "the classifier (own)"), ("judge", "the judge")):
        if eyes in result:
            figures = result[eyes]
            lines.append(f"| {result['search']} | {name} | {figures['match']:.1%} | {figures['read']:.2%} | "
                         f"{figures['ink_rho']:.3f} | {figures['slant_rho']:.3f} |")
    distance = result["distance"]
    lines += ["", f"| digits refused | scribbles refused | distance: median / 99.9% / max | scribbles' least | "
                  f"find_hand + {NUMBER} (median, provisional) |", "|---|---|---|---|---|",
              f"| {result['refused']:.1%} | {result['scribbles_refused']:.1%} | {distance['median']:.2f} / "
              f"{distance['p99.9']:.2f} / {distance['max']:.2f} | {result['scribble_distance']['min']:.2f} | "
              f"{result['seconds_median'] * 1000:.0f} ms |"]
    canvas = result["canvas"]

    def why(causes):
        return ", ".join(f"{cause} {share:.1%}" for cause, share in causes.items()) or "-"
    lines += ["", f"Drawn on canvases ({canvas['inputs']:,} of the same digits, no digit given):", "",
              "| digits read | digits refused (why) | scribbles refused (why) | two digits side by side refused "
              "(why) |",
              "|---|---|---|---|",
              f"| {canvas['read']:.1%} | {canvas['refused']:.1%} ({why(canvas['refused_why'])}) | "
              f"{canvas['scribbles_refused']:.1%} ({why(canvas['scribbles_refused_why'])}) | "
              f"{canvas['rows_refused']:.1%} ({why(canvas['rows_refused_why'])}) |"]
    if "thresholds" in result:
        limits = result["thresholds"]
        lines += ["", "| threshold (cgan.hands.Thresholds) | now | from held-out digits |", "|---|---|---|",
                  f"| min_confidence (refuses at most {DOUBTED:.1%} of {limits['held_out']:,} digits as drawn, and "
                  f"of them as canvases) | {limits['now']['min_confidence']:.3f} | "
                  f"{limits['chosen']['min_confidence']:.3f} |",
                  f"| max_distance (refuses {FAR:.1%} of the digits searched, as drawn and on canvases) | "
                  f"{limits['now']['max_distance']:.2f} | {limits['chosen']['max_distance']:.2f} |",
                  f"| max_stroke (refuses the {FAR:.1%} with the widest strokes, px; median "
                  f"{limits['stroke_median']:.2f}) | {limits['now']['max_stroke']:.2f} | "
                  f"{limits['chosen']['max_stroke']:.2f} |",
                  f"| max_length (refuses the {FAR:.1%} with the longest strokes in all, px) | "
                  f"{limits['now']['max_length']:.1f} | {limits['chosen']['max_length']:.1f} |",
                  f"| max_holes (refuses the {FAR:.1%} with the most holes) | {limits['now']['max_holes']} | "
                  f"{limits['chosen']['max_holes']} |",
                  f"| scribbles refused by the two first | {limits['scribbles_refused']['now']:.1%} | "
                  f"{limits['scribbles_refused']['chosen']:.1%} |"]
    if "compared" in result:
        lines += ["", "| search | random samples closer: features / pixels | ink rho | slant rho | CPU s (median) |",
                  "|---|---|---|---|---|"]
        for name, figures in result["compared"].items():
            lines.append(f"| {name} | {figures['closer_in_features']:.2%} / {figures['closer_in_pixels']:.2%} | "
                         f"{figures['ink_rho']:.3f} | {figures['slant_rho']:.3f} | "
                         f"{figures['cpu_seconds_median']:.3f} |")
    return "\n".join(lines + [""])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hands", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="digits (default 1,000)")
    parser.add_argument("--search", choices=sorted(SEARCHES), default="project")
    parser.add_argument("--validation", action="store_true",
                        help="held-out training digits (what cgan.hands' settings are chosen on) in place of test "
                             "digits, and no judge")
    parser.add_argument("--compare", action="store_true", help="with --validation: every search of SEARCHES too")
    parser.add_argument("--save", action="store_true",
                        help=f"with --validation: the thresholds chosen into the model's folder ({THRESHOLDS_FILE})")
    parser.add_argument("--unsearched", type=int, default=None,
                        help="with --validation: the held-out digits the thresholds that need no search are worked "
                             "out on, as drawn and as canvases (default: all 5,000)")
    parser.add_argument("--time", action="store_true", help="only time find_hand + 2026 on --n test digits")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.n < 10:
        parser.error(f"--n must be at least 10, got {args.n}")
    if args.compare and not args.validation:
        parser.error("--compare chooses a search: with --validation only, never on the test digits")
    if args.time and (args.validation or args.compare or args.save or args.search != "project"):
        parser.error("--time times the app's search on test digits: without --validation, --compare, --save, --search")
    if args.unsearched is not None and not (args.validation and args.unsearched >= 1):
        parser.error(f"--unsearched is with --validation, and at least 1, got {args.unsearched}")
    if args.save and not (args.validation and args.search == "project"):
        parser.error("--save chooses the thresholds find_hand refuses at: with --validation and the project's search "
                     "only, never on the test digits")
    images, labels = load_mnist(not args.validation, mnist_dir=args.mnist_dir)
    if args.validation:  # the held-out digits, in the training set's order, where the digits come mixed
        held = validation_split(labels)[1]
        images, labels = images[held], labels[held]
    every = images[:args.unsearched]
    images, labels = images[:args.n], labels[:args.n]
    generator, classifier = load_generator(args.model), load_classifier()
    model = f" --model {args.model}" * bool(args.model)
    if args.time:
        result = {"machine": machine_line(), "model": str(generator.source), **timed(generator, images.numpy())}
        write_results(args.out, "hands-time", result, f"# find_hand + {NUMBER} written: "
                      f"`python -m benchmarks.hands --time --n {args.n}{model}`\n\n{result['machine']}\n\n"
                      f"Median {result['seconds_median'] * 1000:.0f} ms (90th percentile "
                      f"{result['seconds_p90'] * 1000:.0f} ms) over {args.n} test digits, {result['refused']:.0%} "
                      f"refused.\n")
        return
    judge = None
    if not args.validation:
        from benchmarks.judge import load_judge  # here only: the validation digits are never shown to it
        judge = load_judge()
    finder = HandFinder(generator, classifier, SEARCHES[args.search])
    result = {"machine": machine_line(), "model": str(generator.source), "search": args.search,
              "digits": "held-out training" if args.validation else "test",
              **hands(generator, finder, images, judge), "canvas": canvases(finder, images, labels)}
    if args.validation:
        own = generator.style_rows(OWN_HANDS, seed=OWN_SEED).reshape(-1, 28, 28)
        result["thresholds"] = thresholds(result, unsearched(finder, every), finder.thresholds, own)
    if args.compare:
        result["compared"] = compared(generator, classifier, images, SEARCHES)
    for figures in (result, result["canvas"]):
        del figures["seen"]  # what the thresholds are worked out from: no figure to keep
    command = (f"python -m benchmarks.hands --n {args.n} --search {args.search}" + " --validation" * args.validation
               + " --compare" * args.compare + " --save" * args.save
               + f" --unsearched {args.unsearched}" * (args.unsearched is not None) + model)
    name = f"hands-{args.search}" + "-validation" * args.validation + "-compare" * args.compare
    write_results(args.out, name, result, table(result, command))
    if args.save:
        save_thresholds(generator.source, result["thresholds"]["chosen"], command)


if __name__ == "__main__":
    main()
