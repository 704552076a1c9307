"""Style directions: where in a generator's noise a hand leans further to the right, or writes bolder strokes.

    python -m cgan.style FOLDER      # (re)make FOLDER/style.safetensors for a saved model (deterministic, minutes on a
                                     # 2-core CPU); train.py makes it at the end of every run

The noise decides how a digit is written, so a hand (a noise vector) can be steered: `slant=` and `weight=` of every
drawing method (cgan/drawings.py) move it along the directions found here, in standard units from -2 to 2, one unit
moving the measure by UNIT of its digit's standard deviations. The measures, on the model's own digits:

  slant    how far the ink leans to the right: the shear of its second moments (cgan.hands.stroke_style), its sign
           turned so that a digit leaning right, as most handwriting does, is positive; in pixels across per pixel up
  weight   ink per length of stroke, in pixels: the ink's area over half the length of its outline (`stroke_weight`)

How they are found (fit_style), all on noise the benchmarks never draw (FIT_SEED):
1. Each digit's measures, and the evaluation classifier's 128 features of the digit, are fitted linearly on the noise
   of FIT_HANDS hands, each measure standardised within its digit: for a Gaussian prior a fit's coefficients are the
   mean gradient (Stein's lemma).
2. Each digit's two directions are the steps that, to first order, move their own measure by one standard deviation
   and leave the other measure and the classifier's log-probability of the digit (its mean gradient over
   GRADIENT_HANDS hands) as they are, and that change the classifier's features least, among the steps at most
   LONGEST times as long as the shortest such steps (least_change). The features: a digit steered to another slant
   should stay the digit it was in every other way the classifier sees; the bound: so that the step does not go far
   round the sphere to dodge them.
3. Each step is taken on the sphere where the prior's noise lies (cgan.generation.Steering), so the generator never
   draws off its prior; along it the measures do not change linearly, and an axis drags the other a little as it
   goes (slanting thins a stroke). So on CALIBRATION_HANDS other hands the mean change of both measures is measured
   at steps of each axis: `steps` is, for each digit and asked value on the grid, the step that moves the digit's own
   measure by the asked value x UNIT standard deviations, and `cross` the step along the other axis's direction that
   brings the other measure back where it was; CORRECTIONS rounds of measuring and correcting at the asked values.
4. A digit steered too far stops being read as itself (a 9 written very finely loses its loop and reads as a 7): where
   the evaluation classifier reads fewer than READ_FLOOR of a digit's calibration hands as asked, that step is
   shortened (keep_readable), the digit's reach that way ending before the asked value's.

The file also holds each digit's usual slant, stroke weight and ink (the ink's sum, full ink = 1): their means and
standard deviations over the fit's hands written unsteered, what a found hand's style is measured from
(cgan.hands.HandFinder.carried).
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from cgan.classifier import load_classifier
from cgan.generation import STYLE_AXES, STYLE_FILE, STYLE_RANGE, Steering
from cgan.hands import UNIT, carried_measures, classifier_range, measure
from cgan.hub import load_generator
from cgan.models import NUM_CLASSES

FIT_SEED = 20261205  # the fit's hands, and the calibration's (FIT_SEED + 1): never a benchmark's
FIT_HANDS = 5000  # for the linear fit of the measures: 50,000 digits, a few seconds on a CPU
GRADIENT_HANDS = 2000  # for the classifier's mean gradient
CALIBRATION_HANDS = 400
RAW_STEPS = torch.linspace(-4, 4, 9)  # where each axis's response is measured first, in the directions' own units
GRID = torch.linspace(*STYLE_RANGE, 9)  # the asked values the tables hold
CORRECTIONS = 2
READ_FLOOR = 0.99  # the bar: a step after which fewer of a digit's calibration hands read as asked is shortened
SHORTENINGS = 3
# LONGEST, UNIT and step 4 chosen on the validation split (python -m benchmarks.style --validation --longest X),
# on the model of `python train.py --budget full --seed 0`, 2026-12-05. At UNIT 0.8 without step 4: LONGEST 3 kept
# the digits readable at every step (99.6%) but its steps go round the sphere and 12% of the digits stopped rising
# somewhere along slant (5.5% along weight); at 2, 99.1% and 98.8% rose at every step, but 8% of the 9s written
# finest (weight -2) read as 7s (98.4% of all digits read). Step 4 then read 99.25% at worst, but left the weight's
# span at 2.98 SDs; UNIT 0.85 gives it back (3.11; slant 3.34), 98.7% and 98.5% still rising, 99.15% read.
LONGEST = 2.0


# --- the fit ----------------------------------------------------------------------------------------------------------

def written(generator, z, steering=None, raw=None):
    """uint8 (H, 10, 28, 28): the digits 0-9 in each hand of `z` (H, z_dim), steered by `raw` steps (10, 2) where
    given, as the drawing methods steer them (the ink level each hand's own)."""
    z = z.repeat_interleave(NUM_CLASSES, dim=0)
    labels = torch.arange(NUM_CLASSES).repeat(len(z) // NUM_CLASSES)
    steered = None if raw is None else steering.steer(z, labels, raw)
    return generator.draw(z, labels, steered).reshape(-1, NUM_CLASSES, 28, 28)


def linear_fit(z, values):
    """The coefficients (d, z_dim) of the least-squares fits of `values` (H, d) on the noise `z` (H, z_dim), each
    with a constant, in float64."""
    design = torch.cat([z, torch.ones(len(z), 1)], dim=1).double()
    return torch.linalg.lstsq(design, values.double()).solution[:-1].T


def features(classifier, rows):
    """The classifier's features (H, 10, 128) of uint8 digits (H, 10, 28, 28)."""
    flat = torch.from_numpy(rows.reshape(-1, 28, 28))
    with torch.inference_mode():
        found = torch.cat([classifier.features(flat[i:i + 2000]) for i in range(0, len(flat), 2000)])
    return found.reshape(*rows.shape[:2], -1)


def least_change(wanted, seen, longest):
    """The steps (2, z_dim) whose dot products with the rows of `wanted` (r, z_dim) are the first two unit vectors
    (each moves its own row's value by 1, and the other rows' not at all) and that change least the values `seen`
    (s, z_dim) depends on (the sum of squares of seen @ step), among the steps at most `longest` times as long as the
    shortest such steps: without a bound, a step could go far round the sphere to dodge the features.

    The steps minimise |seen @ step|^2 + w |step|^2 under the constraints, w the least weight (by bisection on its
    logarithm) for which they are short enough; w large gives the shortest steps."""
    metric = seen.T @ seen
    scale = torch.trace(metric) / len(metric)
    identity = torch.eye(len(metric), dtype=metric.dtype)

    def steps(weight):
        inverse = torch.linalg.inv(metric + weight * scale * identity)
        return (inverse @ wanted.T @ torch.linalg.inv(wanted @ inverse @ wanted.T)).T[:2]

    shortest = torch.linalg.pinv(wanted).T[:2].norm(dim=1).mean()
    low, high = -4.0, 4.0  # log10 of the weight
    if steps(10**low).norm(dim=1).mean() <= longest * shortest:
        return steps(10**low).float()
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (low, middle) if steps(10**middle).norm(dim=1).mean() <= longest * shortest else (middle, high)
    return steps(10**high).float()


def readability_gradients(generator, classifier, z):
    """(10, z_dim): for each digit, the mean gradient over the hands `z` of the classifier's log-probability of that
    digit in the generator's drawing of it: the way out of which a step would make the digit read as another."""
    gradients = torch.zeros(NUM_CLASSES, generator.z_dim)
    device = next(generator.parameters()).device
    for digit in range(NUM_CLASSES):
        for start in range(0, len(z), 500):
            hands = z[start:start + 500].to(device).requires_grad_(True)
            drawn = generator.net(hands, torch.full((len(hands),), digit, device=device))
            ink = generator.full_ink(hands.detach().cpu()).to(device)
            logits = classifier(classifier_range(drawn, ink.reshape(-1, 1, 1, 1) if ink.dim() else ink))
            gradient, = torch.autograd.grad(logits.log_softmax(1)[:, digit].sum(), hands)  # the weights' untouched
            gradients[digit] += gradient.cpu().sum(0)
    return gradients / len(z)


def rising(values):
    """The slice of `values` (odd length) around its middle over which they rise at every step."""
    start = stop = len(values) // 2
    while start > 0 and values[start - 1] < values[start]:
        start -= 1
    while stop < len(values) - 1 and values[stop + 1] > values[stop]:
        stop += 1
    return slice(start, stop + 1)


def interpolate(x, xp, fp):
    """numpy.interp for tensors: piecewise-linear through (xp increasing, fp) at x."""
    return torch.from_numpy(np.asarray(np.interp(x.numpy(), xp.numpy(), fp.numpy()))).float()


def fit_style(generator, classifier=None, hands=FIT_HANDS, gradient_hands=GRADIENT_HANDS,
              calibration_hands=CALIBRATION_HANDS, longest=LONGEST, log=print):
    """The Steering of `generator` (the module's text says how); ValueError where a measure does not rise along its
    direction (an untrained generator)."""
    classifier = (classifier or load_classifier()).eval().requires_grad_(False)
    generator = generator.eval()
    z = generator.noise(hands, seed=FIT_SEED)
    rows = written(generator, z)
    usual = carried_measures(rows)  # (H, 10, 3): slant, stroke weight, ink
    usual_sd = usual.std(0).clamp_min(1e-6)
    measured, sd = usual[..., :2], usual_sd[:, :2]  # the style axes' own
    seen = features(classifier, rows)
    gradients = readability_gradients(generator, classifier, z[:gradient_hands])
    directions = torch.stack([least_change(torch.cat([linear_fit(z, measured[:, digit] / sd[digit]),
                                                      gradients[digit][None].double()]),
                                           linear_fit(z, seen[:, digit]), longest)
                              for digit in range(NUM_CLASSES)])
    log(f"style: directions fitted on {hands:,} hands; calibrating them on {calibration_hands:,}")
    radius = generator.noise_scale * generator.z_dim ** 0.5  # where the prior's noise lies (its mean length, nearly)
    tables = torch.zeros(NUM_CLASSES, 2, len(GRID))
    steering = Steering(directions, tables, tables.clone(), GRID, radius, usual.mean(0), usual_sd)
    calibration = generator.noise(calibration_hands, seed=FIT_SEED + 1)
    calibrate(generator, steering, sd, calibration)
    keep_readable(generator, classifier, steering, calibration)
    return steering


def calibrate(generator, steering, sd, hands):
    """Fill `steering`'s tables (step 3 of the module's text) on the noise vectors `hands`, `sd` (10, 2) being the
    measures' standard deviations."""
    start = measure(written(generator, hands)).mean(0)

    def change(raw):  # (10, 2): the mean change of each digit's measures, in its standard deviations, for raw steps
        return (measure(written(generator, hands, steering, raw)).mean(0) - start) / sd

    # Each axis's own response along its direction, measured at RAW_STEPS, and read where it rises steadily: from 0
    # out to where it first stops rising (a measure can go no further that way); an asked value past that is drawn
    # there.
    response = torch.zeros(2, NUM_CLASSES, len(RAW_STEPS))
    for axis in range(2):
        for i, step in enumerate(RAW_STEPS):
            raw = torch.zeros(NUM_CLASSES, 2)
            raw[:, axis] = step
            response[axis, :, i] = change(raw)[:, axis]
    reach = [[rising(response[axis, digit]) for digit in range(NUM_CLASSES)] for axis in range(2)]
    if any(stretch.stop - stretch.start < 3 for stretches in reach for stretch in stretches):
        raise ValueError("the generator's slant or stroke weight does not rise along the directions found: style "
                         "directions are for a trained generator")
    slope = torch.from_numpy(np.gradient(response.numpy(), RAW_STEPS.numpy(), axis=2)).float()  # (2, 10, raw steps)
    for axis in range(2):
        for digit, stretch in enumerate(reach[axis]):
            steering.steps[digit, axis] = interpolate(GRID * UNIT, response[axis, digit, stretch], RAW_STEPS[stretch])
    at_zero = slope[:, :, len(RAW_STEPS) // 2].T  # (10, 2): each measure's slope along its own direction at 0
    for _ in range(CORRECTIONS):
        for axis in range(2):
            for j, asked in enumerate(GRID.tolist()):
                moved = change(steering.raw_steps(*((asked, 0.0) if axis == 0 else (0.0, asked))))
                for digit, stretch in enumerate(reach[axis]):
                    here = steering.steps[digit, axis, j]
                    own = interpolate(here, RAW_STEPS, slope[axis, digit])  # the own measure's slope where it is
                    steering.steps[digit, axis, j] = (here - (moved[digit, axis] - asked * UNIT) / own).clamp(
                        RAW_STEPS[stretch.start], RAW_STEPS[stretch.stop - 1])
                steering.cross[:, axis, j] -= moved[:, 1 - axis] / at_zero[:, 1 - axis]


def keep_readable(generator, classifier, steering, hands):
    """Shorten the steps of `steering` after which the classifier reads a digit as asked in fewer of the calibration
    `hands` than READ_FLOOR (or than unsteered, where fewer are read so): each such step goes half way back to the
    next step towards 0, up to SHORTENINGS times (step 4 of the module's text)."""
    def read(raw):  # (10,): each digit's share of the hands read as asked
        rows = torch.from_numpy(written(generator, hands, steering, raw))
        predicted = classifier.predict(rows.reshape(-1, 28, 28)).reshape(len(hands), NUM_CLASSES)
        return (predicted == torch.arange(NUM_CLASSES)).float().mean(0)

    floor = read(torch.zeros(NUM_CLASSES, 2)).clamp(max=READ_FLOOR)
    middle = len(steering.grid) // 2
    for axis in range(2):
        for j in [*range(middle + 1, len(steering.grid)), *range(middle - 1, -1, -1)]:  # outwards from 0, each side
            inward = j - 1 if j > middle else j + 1
            for _ in range(SHORTENINGS):
                asked = steering.grid[j].item()
                short = read(steering.raw_steps(*((asked, 0.0) if axis == 0 else (0.0, asked)))) < floor
                if not short.any():
                    break
                steering.steps[short, axis, j] = (steering.steps[short, axis, j]
                                                  + steering.steps[short, axis, inward]) / 2


def write_style(generator, folder, log=print, **sizes):
    """Fit the generator's style directions and save them as `folder`/STYLE_FILE; the generator steers with them."""
    generator.style = fit_style(generator, log=log, **sizes)
    path = Path(folder) / STYLE_FILE
    generator.style.save(path, {"unit": str(UNIT), "axes": ",".join(STYLE_AXES), "fit_seed": str(FIT_SEED),
                                "made_by": "python -m cgan.style (cgan/style.py)"})
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cgan.style", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a saved model folder (config.json, model.safetensors)")
    args = parser.parse_args(argv)
    if not Path(args.folder).expanduser().is_dir():
        sys.exit(f"error: {args.folder} is not a model folder: the style directions are written beside its "
                 f"config.json")
    try:
        generator = load_generator(args.folder, style=False)  # the directions it has, if any, are to be made again
        path = write_style(generator, args.folder)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
