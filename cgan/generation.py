"""The saved generator: a network, its noise and its pixels, storable in Hugging Face layout, and the style
directions its noise is steered along (Steering; found by cgan/style.py); what it draws with them (generate,
write_number, ...) is cgan/drawings.py's."""

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from safetensors.torch import load_file, save_file
from torch import nn

from cgan.checks import check_int
from cgan.data import to_uint8
from cgan.drawings import Drawings
from cgan.models import NUM_CLASSES, build_networks

STYLE_FILE = "style.safetensors"  # a model's style directions, saved beside its config.json (cgan/style.py)
STYLE_AXES = ("slant", "weight")  # how far a hand leans to the right, and how bold its strokes are (cgan/style.py)
STYLE_RANGE = (-2.0, 2.0)  # in standard units: 1 moves the measure by about UNIT of its digit's standard deviations
NOISE_SCALES = (0.3, 1.5)  # the noise's widths a model draws with: from neat, typical digits to rare styles
MAX_SEED = 2**32 - 1  # seeds 0 to this everywhere: short to type, and exact in a browser's numbers
BATCH = 1024  # large n is generated in chunks of this many, so memory stays bounded


def new_seed():
    """A fresh random seed 0 to MAX_SEED, for a call that gives none (the app shows it back, so that any result can
    be made again)."""
    return int(np.random.default_rng().integers(0, MAX_SEED, endpoint=True))


def check_noise_scale(value):
    """`value` as a float in NOISE_SCALES, or ValueError naming it and the range: a model's own noise scale and a
    call's alike."""
    low, high = NOISE_SCALES
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value)
                                                                              and low <= value <= high):
        raise ValueError(f"noise_scale must be a number {low}-{high}, got {value!r}")
    return float(value)


def check_style(name, value):
    """A style setting (`name`: slant or weight) as a float in STYLE_RANGE, 0 leaving the hand as it is; ValueError
    naming it and the range otherwise."""
    low, high = STYLE_RANGE
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value)
                                                                              and low <= value <= high):
        raise ValueError(f"{name} must be a number {low:g} to {high:g} (0: unchanged), got {value!r}")
    return float(value)


class Steering:
    """A model's style directions: where to move a noise vector so that the digit it writes leans further to the right
    (slant) or is drawn bolder (weight), found from the model's own samples by cgan/style.py and saved beside it.

    `directions` (10, 2, z_dim) are each digit's raw directions for the two axes (STYLE_AXES). Asked values on `grid`
    (K,) are raw steps along them by the tables `steps` (10, 2, K), each digit's own step for each axis, and `cross`
    (10, 2, K), the step along the *other* axis's direction that undoes the drag of an axis on the other's measure;
    between grid points the tables are read linearly. A step is taken from the noise vector brought to `radius` (the
    sphere its prior's noise lies on, where the tables were measured) and the result is put back at the noise vector's
    own length: the generator never draws off its prior's sphere, whatever the noise scale or the hand.

    `usual_mean` and `usual_sd` (10, 3) are each digit's slant, stroke weight and ink (cgan.hands.carried_measures) as
    the model writes it unsteered, measured on the hands the directions were fitted on: what a found hand's style is
    measured from (cgan.hands.HandFinder.carried)."""

    TENSORS = ("directions", "steps", "cross", "grid", "radius", "usual_mean", "usual_sd")

    def __init__(self, directions, steps, cross, grid, radius, usual_mean, usual_sd):
        self.directions, self.steps, self.cross, self.grid, self.usual_mean, self.usual_sd = (
            torch.as_tensor(t, dtype=torch.float32) for t in (directions, steps, cross, grid, usual_mean, usual_sd))
        self.radius = float(radius)

    def save(self, path, metadata=None):
        """Save as safetensors at `path`, with `metadata` ({str: str}) in its header."""
        tensors = {name: torch.as_tensor(getattr(self, name)).contiguous() for name in self.TENSORS}
        save_file(tensors, path, metadata)

    @classmethod
    def load(cls, path, z_dim):
        """The Steering saved at `path` for a generator of noise size `z_dim`; ValueError saying what is wrong."""
        try:
            tensors = load_file(path)
        except Exception as error:  # safetensors' own error: a damaged or foreign file
            raise ValueError(f"{path} is not a model's style directions ({type(error).__name__}: {error})") from None
        if missing := [name for name in cls.TENSORS if name not in tensors]:
            raise ValueError(f"{path} is not a model's style directions as this version saves them: it lacks "
                             f"{', '.join(missing)}")
        if tensors["radius"].numel() != 1 or tensors["grid"].dim() != 1:
            raise ValueError(f"{path} is damaged: its radius is not one number, or its grid not a row of them")
        steering = cls(**{name: tensors[name] for name in cls.TENSORS})
        k = len(steering.grid)
        shapes = {"directions": (NUM_CLASSES, 2, z_dim), "steps": (NUM_CLASSES, 2, k), "cross": (NUM_CLASSES, 2, k),
                  "usual_mean": (NUM_CLASSES, 3), "usual_sd": (NUM_CLASSES, 3)}
        for name, shape in shapes.items():
            if tuple(tensors[name].shape) != shape:
                raise ValueError(f"{path} does not match the model: its {name} are of shape "
                                 f"{tuple(tensors[name].shape)}, where this model's would be {shape}")
        if k < 2 or not (steering.grid[1:] > steering.grid[:-1]).all() or not all(
                torch.isfinite(t).all() for t in tensors.values()):
            raise ValueError(f"{path} is damaged: its numbers are not finite, or its grid does not rise")
        return steering

    def raw_steps(self, slant, weight):
        """(10, 2): each digit's raw steps along its two directions for the asked `slant` and `weight`: numbers, or
        (10,) each digit's own."""
        digits = torch.arange(NUM_CLASSES)

        def read(table, x):  # table (10, K), each digit's row at its x, linearly between grid points
            x = torch.as_tensor(x, dtype=torch.float32).expand(NUM_CLASSES).contiguous()
            i = torch.searchsorted(self.grid, x, right=True).clamp(1, len(self.grid) - 1) - 1
            t = (x - self.grid[i]) / (self.grid[i + 1] - self.grid[i])
            return torch.lerp(table[digits, i], table[digits, i + 1], t)
        return torch.stack([read(self.steps[:, 0], slant) + read(self.cross[:, 1], weight),
                            read(self.steps[:, 1], weight) + read(self.cross[:, 0], slant)], dim=1)

    def steer(self, z, labels, raw):
        """Noise vectors `z` (N, z_dim) moved by `raw` (10, 2) steps along the directions of their digits: `labels`
        int64 (N,), or float (N, 10) weights over the digits (a morph's blends), whose steps are blended likewise."""
        weights = F.one_hot(labels, NUM_CLASSES).float() if labels.dim() == 1 else labels.float()
        offsets = weights @ torch.einsum("ka,kad->kd", raw, self.directions)  # (N, z_dim)
        length = z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        moved = z * (self.radius / length) + offsets
        return moved * (length / moved.norm(dim=1, keepdim=True).clamp_min(1e-12))


class ConditionalGenerator(
    nn.Module,
    Drawings,
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

    `style` is the model's Steering where it has style directions (saved beside it as STYLE_FILE, read by
    load_generator), for the `slant` and `weight` settings of what it draws; None where it has none.
    """

    style = None

    def __init__(self, arch, output, ink, size="small", noise_scale=1.0, fine=0, ink_levels=None):
        super().__init__()
        self.noise_scale = check_noise_scale(noise_scale)
        self.ink = check_int("ink", ink, 1, 255)
        self.ink_levels = ink_levels
        self.level_values, self.level_bounds = check_ink_levels(ink_levels)
        self.arch = arch
        self.size = size
        self.output = output
        self.fine = fine
        self.net = build_networks(arch, output, size, g_fine=fine)[0]
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
        other = ConditionalGenerator(self.arch, self.output, self.ink, self.size, noise_scale, self.fine,
                                     self.ink_levels)
        other.net.load_state_dict(self.net.state_dict())
        other.source = getattr(self, "source", None)
        other.style = self.style  # the directions are steps on the sphere, whatever its radius: they hold at any scale
        return other.to(next(self.parameters()).device).eval()

    @property
    def z_dim(self):
        return self.net.z_dim

    def forward(self, z, labels):
        return self.net(z, labels)

    # --- sampling: every method draws its noise from a torch.Generator seeded for the call, on the CPU -------------
    def sampling_scale(self, noise_scale=None):
        """The noise scale of a call: `noise_scale` (NOISE_SCALES, checked) or, for None, the model's own."""
        return self.noise_scale if noise_scale is None else check_noise_scale(noise_scale)

    def noise(self, n, seed=None, noise_scale=None, hand=None):
        """(n, z_dim) noise vectors for `seed` (None: a fresh one) at the call's noise scale, on the CPU; or, for a
        `hand` (find_hand's), its own noise vector, n being 1. Vector i is the same for every method: generate's image
        i, style_rows' row i and write_number's sample i share a hand."""
        if hand is not None:
            if seed is not None or noise_scale is not None:
                raise ValueError("a hand is in place of a seed and a noise scale: give hand= or seed= and "
                                 "noise_scale=, not both")
            if n != 1:
                raise ValueError(f"n must be 1 with a hand (one hand, one sample), got {n!r}")
            try:
                z = torch.as_tensor(getattr(hand, "z", hand), dtype=torch.float32)
            except (TypeError, ValueError, RuntimeError):
                z = torch.empty(0)
            if z.shape != (self.z_dim,) or not torch.isfinite(z).all():
                raise ValueError(f"hand must be a Hand of this generator (find_hand), its z finite numbers of shape "
                                 f"({self.z_dim},), got {type(hand).__name__}")
            return z[None].clone()
        seed = new_seed() if seed is None else check_int("seed", seed, 0, MAX_SEED)
        rng = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.z_dim, generator=rng) * self.sampling_scale(noise_scale)

    def steered(self, z, labels, slant=0.0, weight=0.0, hand=None):
        """The noise the network draws `labels` with when noise vectors `z` are asked to write with `slant` and `weight`
        (STYLE_RANGE, 0: as they are), added to a found `hand`'s own style (Hand.style) where it has one, the sum
        kept within STYLE_RANGE: z moved along the model's style directions (Steering), or None where nothing moves.
        ValueError naming a bad setting, or saying that a model without style directions has none."""
        slant, weight = check_style("slant", slant), check_style("weight", weight)
        carried = getattr(hand, "style", None)
        if slant == 0 and weight == 0 and carried is None:
            return None
        if self.style is None:
            folder = getattr(self, "source", None) or "FOLDER"
            raise ValueError(f"this model has no style directions ({STYLE_FILE} beside its config.json), so slant and "
                             f"weight must be 0: make them with python -m cgan.style {folder}")
        asked = torch.tensor([slant, weight]).expand(NUM_CLASSES, 2)
        if carried is not None:
            asked = (asked + torch.as_tensor(carried, dtype=torch.float32)).clamp(*STYLE_RANGE)
        return self.style.steer(z, labels, self.style.raw_steps(asked[:, 0], asked[:, 1]))

    @torch.inference_mode()
    def draw(self, z, labels, steered=None):
        """uint8 (N, 28, 28) images for CPU noise `z` (N, z_dim) and `labels`, int64 (N,) digits or float (N, 10)
        weights over the digits; in chunks of BATCH so memory stays bounded. `steered` (N, z_dim), where given, is
        the noise the network draws with (`z` moved to another style by `steered`); `z` itself still decides each
        hand's ink level, so that a hand steered to another style keeps its ink."""
        device = next(self.parameters()).device
        ink = self.full_ink(z)
        z = z if steered is None else steered
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
