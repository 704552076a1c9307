"""What a generator draws: digits, numbers set as handwriting, a hand's digits 0-9, morphs, each in the hands of a
seed or in a hand found from a person's drawing (cgan.hands), and each with that hand steered to more or less slant
and stroke weight. A mixin of ConditionalGenerator (cgan/generation.py), which gives it the noise (`noise`), the
steering (`steered`) and the pixels (`draw`)."""

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from cgan.checks import check_int
from cgan.hands import HandFinder
from cgan.layout import centre, lay_out
from cgan.models import NUM_CLASSES

MAX_NUMBER_DIGITS = 12
MAX_FRAMES = 240
DENSE = 8  # a morph is drawn at DENSE x its frames first, to space the frames evenly


class Drawings:
    """generate, style_rows, write_number, morph and find_hand, for a class with `noise(n, seed, noise_scale, hand)`,
    `steered(z, labels, slant, weight, hand)` and `draw(z, labels, steered)`.

    Every drawing method takes `slant` and `weight`, in standard units -2 to 2 (0, the default: the hand as it is):
    the hand leaning further to the right (slant > 0) or to the left, its strokes bolder (weight > 0) or finer, each
    leaving the other and the digit as they were. A setting outside -2 to 2 is a ValueError naming it."""

    hand_finder = None  # made by the first find_hand

    def find_hand(self, image, digit=None, noise_scale=None):
        """The hand of a person's drawing of a digit (cgan.hands): a Hand whose `digit` is the one read (or `digit`),
        `z` its noise vector and `distance` how close its drawing comes. Pass it as `hand=` to write in it.
        ValueError for an empty drawing, or one that does not look like a digit."""
        if self.hand_finder is None:
            self.hand_finder = HandFinder(self)  # loads the reader and the evaluation classifier once
        return self.hand_finder.find(image, digit, noise_scale)

    def generate(self, digit, n=1, seed=None, noise_scale=None, hand=None, slant=0.0, weight=0.0):
        """`n` images of `digit` as uint8 (n, 28, 28), 0 = background, full ink at `ink` or the hand's level (full_ink).

        The noise comes from a torch.Generator seeded for this call and is drawn on the CPU, so the same seed gives
        the same images on any device, whatever else runs. seed=None draws a fresh one. noise_scale (0.3-1.5; None:
        the model's own): lower gives neater, more typical digits (the truncation trick), higher rarer styles.
        """
        digit = check_int("digit", digit, 0, NUM_CLASSES - 1)
        n = check_int("n", n, 1, 2**31 - 1)
        z = self.noise(n, seed, noise_scale, hand)
        labels = torch.full((n,), digit, dtype=torch.long)
        return self.draw(z, labels, self.steered(z, labels, slant, weight, hand))

    def style_rows(self, n, seed=None, noise_scale=None, hand=None, slant=0.0, weight=0.0):
        """uint8 (n, 10, 28, 28): row i is the digits 0-9 drawn with noise vector i, in one hand (or in `hand`)."""
        n = check_int("n", n, 1, 2**31 // NUM_CLASSES)
        z = self.noise(n, seed, noise_scale, hand).repeat_interleave(NUM_CLASSES, dim=0)
        labels = torch.arange(NUM_CLASSES).repeat(n)
        images = self.draw(z, labels, self.steered(z, labels, slant, weight, hand))
        return images.reshape(n, NUM_CLASSES, 28, 28)

    def write_number(self, text, n=1, seed=None, noise_scale=None, return_spans=False, hand=None, slant=0.0,
                     weight=0.0):
        """`n` samples of a number `text` (1-12 digits, spaces allowed: "2026", "0151 234"), each in one hand: one
        noise vector for all of a sample's digits. Returns uint8 (n, 28, W), each sample centred; with
        return_spans, also spans[i][j] = (start, stop), the columns where sample i's digit j lies."""
        text = check_number_text(text)
        n = check_int("n", n, 1, 10_000)
        digits = [int(char) for char in text if char != " "]
        z = self.noise(n, seed, noise_scale, hand).repeat_interleave(len(digits), dim=0)
        labels = torch.tensor(digits).repeat(n)
        images = self.draw(z, labels, self.steered(z, labels, slant, weight, hand))
        images = images.reshape(n, len(digits), 28, 28)
        numbers, spans = zip(*(lay_out(sample, text) for sample in images), strict=True)
        out, offsets = centre(numbers, max(number.shape[1] for number in numbers))
        if not return_spans:
            return out
        return out, [[(a + offset, b + offset) for a, b in sample] for sample, offset in zip(spans, offsets, strict=True)]

    def morph(self, digit, to_digit=None, seed=None, to_seed=None, frames=24, noise_scale=None, hand=None, slant=0.0,
              weight=0.0):
        """The frames of a smooth animation, uint8 (frames, 28, 28), from `digit` drawn with `seed` to `to_digit`
        (None: the same digit) drawn with `to_seed` (None: the same seed). Between two seeds the noise moves along the
        sphere (slerp); between two digits the label's conditioning blends from one to the other. The frames are
        spaced evenly by how much the image changes, so the animation moves at an even pace."""
        digit = check_int("digit", digit, 0, NUM_CLASSES - 1)
        to_digit = digit if to_digit is None else check_int("to_digit", to_digit, 0, NUM_CLASSES - 1)
        frames = check_int("frames", frames, 2, MAX_FRAMES)
        z0 = self.noise(1, seed, noise_scale, hand)[0]
        z1 = z0 if to_seed is None else self.noise(1, to_seed, None if hand is not None else noise_scale)[0]
        start, end = F.one_hot(torch.tensor([digit, to_digit]), NUM_CLASSES).float()

        def drawn(t):  # the frames at the points t (T,) of the way: noise and label weights, the noise steered
            z, labels = slerp(z0, z1, t), torch.lerp(start, end, t[:, None])
            return self.draw(z, labels, self.steered(z, labels, slant, weight, hand))

        # Dense first, then frames at even steps of the distance travelled in pixel space.
        dense = torch.linspace(0, 1, DENSE * frames)
        images = torch.from_numpy(drawn(dense)).float().flatten(1)
        travelled = torch.cat([torch.zeros(1), (images[1:] - images[:-1]).norm(dim=1).cumsum(0)])
        if travelled[-1] > 0:
            t = interpolate(torch.linspace(0, 1, frames) * travelled[-1], travelled, dense)
        else:  # nothing changes: still frames
            t = torch.linspace(0, 1, frames)
        return drawn(t)


def check_number_text(text):
    """`text` as a number to write: 1-12 digits, single spaces between groups allowed; ValueError otherwise."""
    if isinstance(text, numbers.Integral) and not isinstance(text, bool) and text >= 0:
        text = str(text)
    rule = f"text must be 1-{MAX_NUMBER_DIGITS} digits, with single spaces between groups allowed"
    if not isinstance(text, str):
        raise ValueError(f"{rule}, got {text!r}")
    stripped = text.strip()
    digits = sum(char.isascii() and char.isdigit() for char in stripped)
    if (not stripped or "  " in stripped or any(not (char == " " or (char.isascii() and char.isdigit()))
                                                for char in stripped) or digits > MAX_NUMBER_DIGITS):
        raise ValueError(f"{rule}, got {text!r}")
    return stripped


def slerp(z0, z1, t):
    """Points t (T,) of the way along the great circle from z0 to z1, their norms blended too (White 2016): a
    straight line between two Gaussian vectors passes through unlikely, short ones in the middle."""
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    if omega < 1e-4:  # (nearly) the same direction: a straight line is the same path
        return torch.lerp(z0, z1, t[:, None])
    return (torch.sin((1 - t) * omega)[:, None] * z0 + torch.sin(t * omega)[:, None] * z1) / torch.sin(omega)


def interpolate(x, xp, fp):
    """Piecewise-linear interpolation of points (xp, fp), xp increasing, at x (as numpy.interp, for tensors)."""
    return torch.from_numpy(np.interp(x.numpy(), xp.numpy(), fp.numpy())).float()
