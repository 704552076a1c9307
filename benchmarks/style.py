"""How well the slant and weight settings steer a hand (cgan/style.py), on hands the directions were never fitted on.

    python -m benchmarks.style                            # the bundled model: 200 hands x 10 digits, steps of 0.5
    python -m benchmarks.style --model runs/default/generator
    python -m benchmarks.style --validation               # other hands, FD against held-out training digits: what
                                                          # cgan.style's settings are chosen on
    python -m benchmarks.style --validation --longest 1.5   # the directions fitted again with another setting

The measures (cgan/style.py, the ones the directions are fitted with):
  slant    how far the ink leans to the right: the shear of its second moments, sum(x dx dy) / sum(x dy^2) over the
           pixels' ink x, their offsets dx (right) and dy (down) from the ink's centre, its sign turned
  weight   ink per length of stroke, in pixels: 2 sum(x) / sum(|grad x|), central differences; a stroke w pixels wide
           measures about w
and one the fit never used, to see that a bolder digit is bolder and not blurred:
  width    the stroke width of the digit's pixels of half ink or more, 4 x their mean distance to the nearest
           fainter pixel - 2 (Euclidean distance transform; a band w pixels wide measures w)

For each axis, `--hands` hands (fresh seeds) each write the digits 0-9 at the asked values -2 to 2 (STEPS), the other
axis at 0, by style_rows:
  rises         share of the hands' digits whose measure rises at every step; and of the hands, their 10 digits' mean
  span          the measure at 2 less at -2, in its digit's standard deviations (SD: over FD_HANDS other fresh hands
                at 0), the mean over the hands' digits and the least of the digits' means
  other moves   the largest change of the other axis's measure from its value at 0 at any step, in SDs, the mean over
                all the digits and the worst digit's
  read          share of the digits the evaluation classifier reads as asked: the lowest at any step; and by the
                independent judge, where benchmarks/ has one
  FD ratio      per-digit FD (cgan.evaluate, against the MNIST test set, FD_HANDS hands) at -1 and at 1 over at 0:
                the worse of the two; and the worst single digit's ratio
  real moved    the same ratio for real digits moved as far: the training digits (less the held-out ones) reweighted,
                exp(t x their measure's normal score) for each digit, so that their mean measure moves by as many of
                their SDs as the model's digits did at -1 and at 1, their per-digit FD against the same digits over
                the FD unweighted: what a model whose steered digits were real digits of that style would score
  against real moved   the per-digit FD of the model's digits at -1 and at 1 against those real digits moved as far,
                over that at 0 against the real digits unmoved (the worse of the two): how far a steered digit lies
                from real digits of the style it was asked for, next to how far an unsteered one lies from real
                digits as they are
With --validation the hands are others (never the fit's nor these) and the FDs are against the held-out training
digits (cgan.data.validation_split), the real moved ones drawn from the rest. Writes style.json and style.md (or
style-validation.*) to --out.
"""

import argparse

import numpy as np
import torch
from scipy import optimize, stats
from scipy.ndimage import distance_transform_edt

from benchmarks.common import machine_line, write_results
from cgan.classifier import load_classifier
from cgan.data import load_mnist, validation_split
from cgan.evaluate import Evaluator, shown_source
from cgan.generation import STYLE_AXES
from cgan.hands import measure
from cgan.hub import load_generator
from cgan.models import NUM_CLASSES
from cgan.style import FIT_SEED, fit_style

STEPS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
SEEDS = {"test": (1, 2), "validation": (FIT_SEED + 2, FIT_SEED + 3)}  # (the sweep's hands, the FDs'): never the fit's
FD_HANDS = 1000  # per digit, for the FDs and the standard deviations: 200 would leave FD mostly its estimate's bias
BARS = {"rises": 0.98, "span": 3.0, "other moves": 0.25, "read": 0.99, "FD ratio": 1.5}


def stroke_width(images):
    """(N, 28, 28) uint8 -> (N,): the width of the strokes of pixels at half ink or more, in pixels, from their
    Euclidean distance transform (4 x the mean distance of a stroke's pixel to the background - 2: a band w wide
    measures w)."""
    out = []
    for image in np.asarray(images):
        ink = image >= 128
        out.append(4 * distance_transform_edt(ink)[ink].mean() - 2 if ink.any() else 0.0)
    return torch.tensor(out, dtype=torch.float32)


def measures(rows):
    """(hands, 10, 28, 28) uint8 -> (hands, 10, 3): slant, weight and the independent stroke width of each digit."""
    flat = rows.reshape(-1, 28, 28)
    return torch.cat([measure(flat), stroke_width(flat)[:, None]], dim=1).reshape(*rows.shape[:2], 3)


def load_judge():
    """The independent judge of benchmarks/judge where this checkout has it (another network than the evaluation
    classifier, never used by cgan.style), else None."""
    try:
        from benchmarks.judge import load_judge as load
    except ImportError:
        return None
    return load()


def sweep(generator, axis, hands, seed, classifier, judge=None):
    """For the asked values STEPS of `axis` (0: slant, 1: weight): the measures (steps, hands, 10, 3) and each step's
    share read as asked, by the evaluation classifier and by the judge (None without one)."""
    values, read, judged = [], [], []
    for step in STEPS:
        rows = generator.style_rows(hands, seed, **{STYLE_AXES[axis]: step})
        values.append(measures(rows))
        flat = torch.from_numpy(rows.reshape(-1, 28, 28))
        asked = torch.arange(NUM_CLASSES).repeat(hands)
        read.append((classifier.predict(flat) == asked).float().mean().item())
        if judge is not None:
            judged.append((judge.look(flat)[1] == asked).float().mean().item())
    return torch.stack(values), read, judged or None


def at_steps(generator, axis, seed, evaluator):
    """The FD_HANDS hands of `seed` at -1, 0 and 1 of `axis`: {step: (evaluator's scores, measures (hands, 10, 3),
    the digits' features (10, hands, d), each digit's own)}."""
    labels = torch.arange(NUM_CLASSES).repeat(FD_HANDS)
    out = {}
    for step in (-1.0, 0.0, 1.0):
        rows = torch.from_numpy(generator.style_rows(FD_HANDS, seed, **{STYLE_AXES[axis]: step}).reshape(-1, 28, 28))
        features = evaluator.features(rows).double().numpy().reshape(FD_HANDS, NUM_CLASSES, -1).transpose(1, 0, 2)
        out[step] = evaluator.score(rows, labels), measures(rows.reshape(FD_HANDS, NUM_CLASSES, 28, 28).numpy()), \
            features
    return out


def statistics(features, weights=None):
    """(mean, covariance) of features (N, d), weighted by `weights` (N,) where given (an unbiased covariance)."""
    weights = np.ones(len(features)) if weights is None else weights
    weights = weights / weights.sum()
    mean = weights @ features
    centred = features - mean
    return mean, (centred * weights[:, None]).T @ centred / (1 - (weights**2).sum())


def frechet(a, b):
    """The Fréchet distance between two (mean, covariance) pairs."""
    (mean, covariance), (ref_mean, ref_covariance) = a, b
    root_trace = np.sqrt(np.linalg.eigvals(covariance @ ref_covariance).real.clip(min=0)).sum()  # tr sqrt(C1 C2)
    return float(((mean - ref_mean) ** 2).sum() + np.trace(covariance + ref_covariance) - 2 * root_trace)


def tilts(real, axis, shift):
    """For each digit, the weights (N_d,) that move `real` = (labels, features, measures) on `axis` by `shift` (10,)
    SDs (the module's text: exp(t x the measure's normal score))."""
    labels, _, values = real
    out = []
    for digit in range(NUM_CLASSES):
        value = values[labels == digit, axis].double().numpy()
        score = stats.norm.ppf((stats.rankdata(value) - 0.5) / len(value))  # normal scores: a tilt moves any shape
        target = shift[digit].item() * value.std()

        def moved_by(t):
            weights = np.exp(t * score)
            return weights @ value / weights.sum() - value.mean() - target
        out.append(np.exp(optimize.brentq(moved_by, -5, 5) * score))
    return out


def per_digit(real, weights=None):
    """Each digit's (mean, covariance) of `real` = (labels, features, measures)'s features, tilted by `weights`
    (tilts) where given."""
    labels, features, _ = real
    return [statistics(features[labels == digit], None if weights is None else weights[digit])
            for digit in range(NUM_CLASSES)]


def mean_fd(first, second):
    """The mean per-digit Fréchet distance between two lists of each digit's (mean, covariance)."""
    return float(np.mean([frechet(a, b) for a, b in zip(first, second, strict=True)]))


def moved_ratio(real, reference, weights):
    """The ratio of the module's text: the mean per-digit FD of `real` = (labels, features, measures) tilted by
    `weights` (tilts) over that untilted, against each digit's `reference` features (a list of 10)."""
    against = [statistics(features) for features in reference]
    return mean_fd(per_digit(real, weights), against) / mean_fd(per_digit(real), against)


def like_ratio(real, model, weights):
    """The ratio of the module's text against real digits moved as far: the mean per-digit FD of the model's steered
    digits' `model[1]` features (10, n, d) against `real` tilted by `weights`, over that of its unsteered `model[0]`
    against `real` untilted."""
    unsteered, steered = ([statistics(features) for features in digits] for digits in model)
    return mean_fd(steered, per_digit(real, weights)) / mean_fd(unsteered, per_digit(real))


def summary(values, sd, axis):
    """The sweep's figures of the module's text for one axis: values (steps, hands, 10, 3), sd (10, 3)."""
    standard = values / sd
    own, other, width = standard[..., axis], standard[..., 1 - axis], standard[..., 2]
    zero = STEPS.index(0.0)
    rises = (own[1:] > own[:-1]).all(0)
    hand_rises = (own.mean(2)[1:] > own.mean(2)[:-1]).all(0)
    span = own[-1] - own[0]
    moves = other - other[zero]
    return {"rises": rises.float().mean().item(), "hands_rise": hand_rises.float().mean().item(),
            "span": span.mean().item(), "span_least_digit": span.mean(0).min().item(),
            "other_moves": moves.mean((1, 2)).abs().max().item(),
            "other_moves_worst_digit": moves.mean(1).abs().max().item(),
            "width_span": (width[-1] - width[0]).mean().item()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.style", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--hands", type=int, default=200, help="hands of the sweep (default 200), each writing 0-9")
    parser.add_argument("--validation", action="store_true",
                        help="other hands, FD against held-out training digits: what cgan.style's settings are "
                             "chosen on")
    parser.add_argument("--longest", type=float, default=None,
                        help="fit the directions again with this cgan.style LONGEST (a few minutes)")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.hands < 2:
        parser.error(f"--hands must be at least 2, got {args.hands}")
    torch.set_num_threads(1)  # the same figures on any machine, as the fit's
    generator, classifier, judge = load_generator(args.model), load_classifier(), load_judge()
    if args.longest is not None:
        generator.style = fit_style(generator, classifier, longest=args.longest)
    if generator.style is None:
        parser.exit(1, f"error: {generator.source} has no style directions: make them with python -m cgan.style "
                       f"{generator.source}\n")
    images, labels = load_mnist(True, mnist_dir=args.mnist_dir)
    rest, held = validation_split(labels)
    reference = (images[held], labels[held]) if args.validation else load_mnist(False, mnist_dir=args.mnist_dir)
    evaluator = Evaluator(classifier, *reference)
    per_digit = [evaluator.test_features[reference[1] == digit].double().numpy() for digit in range(NUM_CLASSES)]
    real = (labels[rest], evaluator.features(images[rest]).double().numpy(), measure(images[rest]))
    seed, fd_seed = SEEDS["validation" if args.validation else "test"]
    result = {"machine": machine_line(), "model": shown_source(generator.source), "hands": args.hands,
              "steps": STEPS, "seed": seed, "fd_hands": FD_HANDS, "fd_seed": fd_seed, "bars": BARS,
              "reference": "held-out training digits" if args.validation else "test set",
              "longest": args.longest, "judge": judge is not None, "axes": {}}
    for axis, name in enumerate(STYLE_AXES):
        scored = at_steps(generator, axis, fd_seed, evaluator)
        sd = scored[0.0][1].std(0)
        base = scored[0.0][0]
        ratio = {step: scored[step][0]["fd_per_digit"] / base["fd_per_digit"] for step in (-1.0, 1.0)}
        worst_digit = max(scored[step][0]["fd_per_digit_each"][d] / base["fd_per_digit_each"][d]
                          for step in (-1.0, 1.0) for d in range(NUM_CLASSES))
        shifts = {step: ((scored[step][1] - scored[0.0][1]) / sd).mean(0)[:, axis] for step in (-1.0, 1.0)}
        weights = {step: tilts(real, axis, shifts[step]) for step in (-1.0, 1.0)}
        real_ratio = {step: moved_ratio(real, per_digit, weights[step]) for step in (-1.0, 1.0)}
        like = {step: like_ratio(real, (scored[0.0][2], scored[step][2]), weights[step]) for step in (-1.0, 1.0)}
        values, read, judged = sweep(generator, axis, args.hands, seed, classifier, judge)
        result["axes"][name] = {**summary(values, sd, axis), "read": read, "read_lowest": min(read),
                                "judged": judged, "judged_lowest": min(judged) if judged else None,
                                "fd_ratio": max(ratio.values()), "fd_ratio_minus": ratio[-1.0],
                                "fd_ratio_plus": ratio[1.0], "fd_ratio_worst_digit": worst_digit,
                                "fd_per_digit_at_0": base["fd_per_digit"],
                                "real_moved_fd_ratio": max(real_ratio.values()),
                                "real_moved_fd_ratio_minus": real_ratio[-1.0],
                                "real_moved_fd_ratio_plus": real_ratio[1.0],
                                "fd_ratio_like_real": max(like.values()), "fd_ratio_like_real_minus": like[-1.0],
                                "fd_ratio_like_real_plus": like[1.0]}
    command = "python -m benchmarks.style" + (f" --model {args.model}" if args.model else "") + \
        (f" --hands {args.hands}" if args.hands != 200 else "") + (" --validation" if args.validation else "") + \
        (f" --longest {args.longest:g}" if args.longest is not None else "")
    lines = [f"# Steering a hand: {args.hands} hands x 10 digits, asked -2 to 2 in steps of 0.5: `{command}`", "",
             f"{result['machine']} Model: {result['model']}. FD against the {result['reference']}.", "",
             "| axis | rises (digits / hands) | span, SDs (least digit) | other moves, SDs (worst digit) | "
             "read, lowest step (judge) | FD ratio at +-1 (worst digit) | real moved as far: FD ratio | "
             "FD ratio against real moved as far | width span, SDs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, a in result["axes"].items():
        judged = "-" if a["judged"] is None else f"{a['judged_lowest']:.2%}"
        lines.append(f"| {name} | {a['rises']:.1%} / {a['hands_rise']:.1%} | {a['span']:.2f} "
                     f"({a['span_least_digit']:.2f}) | {a['other_moves']:.3f} ({a['other_moves_worst_digit']:.3f}) | "
                     f"{a['read_lowest']:.2%} ({judged}) | "
                     f"{a['fd_ratio']:.2f} ({a['fd_ratio_worst_digit']:.2f}) | "
                     f"{a['real_moved_fd_ratio']:.2f} | {a['fd_ratio_like_real']:.2f} | {a['width_span']:.2f} |")
    lines += ["", "Bars: rises >= 98%, span >= 3 SDs, other moves <= 0.25 SD, read >= 99% at every step, FD ratio "
              "<= 1.5. Read at each step, -2 to 2: " + "; ".join(
                  f"{name} " + " ".join(f"{r:.1%}" for r in a["read"]) for name, a in result["axes"].items()),
              "" if judge is None else "By the judge (benchmarks/judge): " + "; ".join(
                  f"{name} " + " ".join(f"{r:.1%}" for r in a["judged"]) for name, a in result["axes"].items()), ""]
    write_results(args.out, "style" + "-validation" * args.validation, result, "\n".join(lines))


if __name__ == "__main__":
    main()
