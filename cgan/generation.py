"""The saved generator: a network plus `generate(digit, n, seed)`, storable in Hugging Face layout."""

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from cgan.data import to_uint8
from cgan.layout import centre, lay_out
from cgan.models import NUM_CLASSES, build_networks

MAX_SEED = 2**32 - 1  # seeds 0 to this everywhere: short to type, and exact in a browser's numbers
BATCH = 1024  # large n is generated in chunks of this many, so memory stays bounded


def check_int(name, value, low, high):
    """`value` as an int in [low, high], or ValueError naming `name` and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer {low}-{high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer {low}-{high}, got {value}")
    return int(value)


def new_seed():
    """A fresh random seed 0 to MAX_SEED, for a call that gives none (the app shows it back, so that any result can
    be made again)."""
    return int(np.random.default_rng().integers(0, MAX_SEED, endpoint=True))


def check_noise_scale(value):
    """`value` as a float when it is a finite number above 0, else ValueError naming the problem."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"noise_scale must be a number above 0, got {value!r}")
    return float(value)


class ConditionalGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="cgan-digits",
    tags=["pytorch", "gan", "conditional-gan", "mnist", "image-generation"],
    license="mit",
    pipeline_tag="unconditional-image-generation",
):
    """A trained CGAN generator. `arch`, `size`, `output` and `fine` (saved in config.json) pick the network; weights
    in model.safetensors.

    `ink` is the pixel value G's full ink (1) is drawn as: the level the real digits it learned from were scaled to
    (cgan.data.to_model_range). `ink_levels` ({level: share}, learned from the training digits by
    cgan.data.ink_levels; None: every digit at `ink`) draws each digit's full ink at a level of its own, as MNIST's
    digits have: the share of noise vectors drawn at each level is the share of training digits at it, and one noise
    vector (one hand) writes every digit at the same level.

    `noise_scale` is the standard deviation of the noise `generate` draws: below 1 the samples keep closer to the
    typical digit (the truncation trick), above 1 they spread into rarer styles.
    """

    def __init__(self, arch="dcgan", size="small", noise_scale=1.0, output="tanh", ink=255, fine=0, ink_levels=None):
        super().__init__()
        self.noise_scale = check_noise_scale(noise_scale)
        self.ink = check_int("ink", ink, 1, 255)
        self.ink_levels = ink_levels
        self.level_values, self.level_bounds = check_ink_levels(ink_levels)
        self.arch = arch
        self.size = size
        self.output = output
        self.fine = fine
        self.net = build_networks(arch, size, output=output, g_fine=fine)[0]
        self.eval()

    @classmethod
    def for_recipe(cls, arch, recipe, ink_levels=None):
        """An untrained generator of the network `recipe` (cgan.recipe.Recipe) trains for `arch`, drawing its full ink
        at `ink_levels` where the recipe draws it at the training digits' levels."""
        return cls(arch=arch, size=recipe.size, output=recipe.output, ink=recipe.ink, fine=recipe.g_fine,
                   ink_levels=ink_levels if recipe.ink_levels else None)

    def with_noise_scale(self, noise_scale):
        """A copy with the same weights that samples at `noise_scale`. A copy rather than setting the attribute: the
        Hub mixin saves __init__'s arguments as config.json, so only a model built with the scale saves it."""
        other = ConditionalGenerator(self.arch, self.size, noise_scale, self.output, self.ink, self.fine,
                                     self.ink_levels)
        other.net.load_state_dict(self.net.state_dict())
        other.source = getattr(self, "source", None)
        return other.to(next(self.parameters()).device).eval()

    @property
    def z_dim(self):
        return self.net.z_dim

    def forward(self, z, labels):
        return self.net(z, labels)

    # --- sampling: every method draws its noise from a torch.Generator seeded for the call, on the CPU -------------
    def sampling_scale(self, noise_scale=None):
        """The noise scale of a call: `noise_scale` (NOISE_SCALES, checked) or, for None, the model's own."""
        return self.noise_scale if noise_scale is None else check_sampling_scale(noise_scale)

    def noise(self, n, seed=None, noise_scale=None):
        """(n, z_dim) noise vectors for `seed` (None: a fresh one) at the call's noise scale, on the CPU.
        Vector i is the same for every method: generate's image i, style_rows' row i and write_number's sample i
        share a hand."""
        seed = new_seed() if seed is None else check_int("seed", seed, 0, MAX_SEED)
        rng = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.z_dim, generator=rng) * self.sampling_scale(noise_scale)

    @torch.inference_mode()
    def draw(self, z, labels):
        """uint8 (N, 28, 28) images for CPU noise `z` (N, z_dim) and `labels`, int64 (N,) digits or float (N, 10)
        weights over the digits; in chunks of BATCH so memory stays bounded."""
        device = next(self.parameters()).device
        ink = self.full_ink(z)
        out = np.empty((len(z), 28, 28), dtype=np.uint8)
        for start in range(0, len(z), BATCH):
            chunk = slice(start, start + BATCH)
            drawn = self.net(z[chunk].to(device), labels[chunk].to(device)).float()
            out[chunk] = to_uint8(drawn.cpu(), ink if ink.dim() == 0 else ink[chunk]).numpy()
        return out

    def full_ink(self, z):
        """The pixel value of full ink for each noise vector of `z` (N, z_dim), as a tensor (N,), or `ink` for all.

        A hand's level is the quantile of the training digits' levels at Phi(sum(z) / |z|): that is nearly a standard
        normal whatever the noise scale, so the levels are drawn in the training digits' shares; it is fixed by the
        noise, so a seed always gives the same images and one hand writes all its digits at one level."""
        if self.level_values is None:
            return torch.tensor(float(self.ink))
        u = torch.special.ndtr(z.sum(1) / z.norm(dim=1).clamp_min(1e-12))
        index = torch.searchsorted(self.level_bounds, u.double(), right=True).clamp(max=len(self.level_values) - 1)
        return self.level_values[index]

    def generate(self, digit, n=1, seed=None, noise_scale=None):
        """`n` images of `digit` as uint8 (n, 28, 28), 0 = background, full ink at `ink` or the hand's level (full_ink).

        The noise comes from a torch.Generator seeded for this call and is drawn on the CPU, so the same seed gives
        the same images on any device, whatever else runs. seed=None draws a fresh one. noise_scale (0.3-1.5; None:
        the model's own): lower gives neater, more typical digits (the truncation trick), higher rarer styles.
        """
        digit = check_int("digit", digit, 0, NUM_CLASSES - 1)
        n = check_int("n", n, 1, 2**31 - 1)
        z = self.noise(n, seed, noise_scale)
        return self.draw(z, torch.full((n,), digit, dtype=torch.long))

    def style_rows(self, n, seed=None, noise_scale=None):
        """uint8 (n, 10, 28, 28): row i is the digits 0-9 drawn with noise vector i, in one hand."""
        n = check_int("n", n, 1, 2**31 // NUM_CLASSES)
        z = self.noise(n, seed, noise_scale).repeat_interleave(NUM_CLASSES, dim=0)
        images = self.draw(z, torch.arange(NUM_CLASSES).repeat(n))
        return images.reshape(n, NUM_CLASSES, 28, 28)

    def write_number(self, text, n=1, seed=None, noise_scale=None, return_spans=False):
        """`n` samples of a number `text` (1-12 digits, spaces allowed: "2026", "0151 234"), each in one hand: one
        noise vector for all of a sample's digits. Returns uint8 (n, 28, W), each sample centred; with
        return_spans, also spans[i][j] = (start, stop), the columns where sample i's digit j lies."""
        text = check_number_text(text)
        n = check_int("n", n, 1, 10_000)
        digits = [int(char) for char in text if char != " "]
        z = self.noise(n, seed, noise_scale).repeat_interleave(len(digits), dim=0)
        images = self.draw(z, torch.tensor(digits).repeat(n)).reshape(n, len(digits), 28, 28)
        numbers, spans = zip(*(lay_out(sample, text) for sample in images), strict=True)
        out, offsets = centre(numbers, max(number.shape[1] for number in numbers))
        if not return_spans:
            return out
        return out, [[(a + offset, b + offset) for a, b in sample] for sample, offset in zip(spans, offsets, strict=True)]

    def morph(self, digit, to_digit=None, seed=None, to_seed=None, frames=24, noise_scale=None):
        """The frames of a smooth animation, uint8 (frames, 28, 28), from `digit` drawn with `seed` to `to_digit`
        (None: the same digit) drawn with `to_seed` (None: the same seed). Between two seeds the noise moves along the
        sphere (slerp); between two digits the label's conditioning blends from one to the other. The frames are
        spaced evenly by how much the image changes, so the animation moves at an even pace."""
        digit = check_int("digit", digit, 0, NUM_CLASSES - 1)
        to_digit = digit if to_digit is None else check_int("to_digit", to_digit, 0, NUM_CLASSES - 1)
        frames = check_int("frames", frames, 2, MAX_FRAMES)
        z0 = self.noise(1, seed, noise_scale)[0]
        z1 = z0 if to_seed is None else self.noise(1, to_seed, noise_scale)[0]
        start, end = F.one_hot(torch.tensor([digit, to_digit]), NUM_CLASSES).float()

        def at(t):  # noise and label weights at the points t (T,) of the way
            return slerp(z0, z1, t), torch.lerp(start, end, t[:, None])

        # Dense first, then frames at even steps of the distance travelled in pixel space.
        dense = torch.linspace(0, 1, DENSE * frames)
        images = torch.from_numpy(self.draw(*at(dense))).float().flatten(1)
        travelled = torch.cat([torch.zeros(1), (images[1:] - images[:-1]).norm(dim=1).cumsum(0)])
        if travelled[-1] > 0:
            t = interpolate(torch.linspace(0, 1, frames) * travelled[-1], travelled, dense)
        else:  # nothing changes: still frames
            t = torch.linspace(0, 1, frames)
        return self.draw(*at(t))


NOISE_SCALES = (0.3, 1.5)  # what a call may ask for: from neat, typical digits to rare styles
MAX_NUMBER_DIGITS = 12
MAX_FRAMES = 240
DENSE = 8  # a morph is drawn at DENSE x its frames first, to space the frames evenly


def check_sampling_scale(value):
    """A call's `noise_scale` as a float in NOISE_SCALES, or ValueError naming it and the range."""
    low, high = NOISE_SCALES
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value)
                                                                              and low <= value <= high):
        raise ValueError(f"noise_scale must be a number {low}-{high}, got {value!r}")
    return float(value)


def check_ink_levels(levels):
    """(levels, cumulative shares) as float tensors for `ink_levels` ({level 1-255: share}, keys as ints or digit
    strings, as config.json has them), or (None, None) for None; ValueError naming what is wrong."""
    if levels is None:
        return None, None
    rule = "ink_levels must map pixel values 1-255 to shares of 0 or more, not all 0"
    try:
        pairs = sorted((int(level), float(share)) for level, share in levels.items())
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"{rule}, got {levels!r}") from None
    if not pairs or any(not (1 <= level <= 255 and math.isfinite(share) and share >= 0) for level, share in pairs):
        raise ValueError(f"{rule}, got {levels!r}")
    shares = torch.tensor([share for _, share in pairs], dtype=torch.float64)
    if shares.sum() <= 0:
        raise ValueError(f"{rule}, got {levels!r}")
    return torch.tensor([float(level) for level, _ in pairs]), (shares.cumsum(0) / shares.sum())[:-1]


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
