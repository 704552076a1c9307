"""The recipe: every setting `python train.py` trains with, in one place, each with why.

Two budgets of one recipe: "quick", 12 epochs (17.5 minutes of training on a 2-core CPU); "full", 72 epochs, the
same on every device (103 minutes on a 2-core CPU, minutes on a GPU; python -m benchmarks.speed). With no budget
named, a CUDA GPU trains the full one and anything else the quick one. `--epochs` extends either. A run saves the
recipe it trained with, and a resumed run keeps its own, whatever this file says by then. The measurements behind
each value, one entry for each: docs/training-notes.md#decisions.
"""

import dataclasses
import math

from cgan.checks import check_int
from cgan.generation import check_noise_scale
from cgan.models import DEFAULT_ARCH, NUM_CLASSES, OUTPUTS, SIZES, check_arch  # noqa: F401 (NUM_CLASSES: re-export)

BUDGETS = ("quick", "full")
DCGAN_LOSSES = ("hinge", "nonsaturating")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything a run trains with."""

    loss: str  # "hinge", "nonsaturating" or "seed" (the report's BCE on 10 sigmoid outputs)
    optimizer: str  # "adam" or "sgd"
    lr: float  # G's learning rate; D's is lr * d_lr_ratio
    d_lr_ratio: float
    betas: tuple  # Adam's betas, or (momentum, unused) for SGD
    epochs: int
    batch_size: int
    ema_decay: float  # 0: no EMA; else the saved G is the EMA of G's weights
    output: str  # G's last activation (cgan.models.OUTPUTS; the seed architecture's is tanh)
    ink: int  # the pixel value of full ink: real digits are clipped to it and scaled to 1, G's 1 is drawn as it
    size: str = "small"  # G's size (cgan.models.SIZES)
    d_size: str | None = None  # D's size; None: G's
    deep_d: bool = False  # a 3x3 conv after each of D's downsamplings
    d_stem: int = 0  # channels of a 3x3 conv D runs on the 28x28 image first (in a deep D, instead of the one at 14x14)
    g_fine: int = 0  # channels of a stage G runs at 28x28 before its last conv; 0: none (its last stage is 14x14)
    r1_gamma: float = 0.0  # weight of the R1 penalty on real digits; 0: none
    aux_weight: float = 0.0  # weight of the auxiliary classifier's cross-entropy in G's loss; 0: none
    lr_drop_epoch: int | None = None  # after this many epochs both rates are multiplied by lr_drop_factor
    lr_drop_factor: float = 0.25
    validation: bool = False  # hold the validation split out of training (cgan.data.validation_split)
    noise_scales: tuple = ()  # the saved noise scale is the one of these that measures best on the validation split
    ink_levels: bool = False  # draw each digit's full ink at a level learned from the training digits' (else at ink)


DCGAN_QUICK = Recipe(
    # Each why below is an entry of the training notes, with its figures and the command that measures them.
    # G: 32 channels, 64 digits in under 10 ms on a 2-core CPU; the only network that ships
    # (docs/training-notes.md#size)
    size="small",
    # D: G's 32 channels, where 64 cost twice the time for less reliable digits (docs/training-notes.md#d-size); the
    # deeper D, a 3x3 conv after each downsampling, beat the 2-conv one on every metric but recall, which held
    # (docs/training-notes.md#deep-d)
    d_size="small", deep_d=True,
    # D's first 3x3 conv at full resolution, where the edges' texture is: a lower C2ST at the same cost
    # (docs/training-notes.md#d-stem)
    d_stem=8,
    # G's last features at 28x28, where the faint ink around a stroke is drawn: a lower C2ST for 5% more time
    # (docs/training-notes.md#g-fine)
    g_fine=8,
    # pure background and full ink (tanh left a haze), edges anti-aliased as MNIST's were
    # (docs/training-notes.md#output)
    output="coverage",
    # MNIST's full ink: most of its ink sits at 252-254, only 1-2 pixels a digit at 255 (docs/training-notes.md#ink)
    ink=253,
    # and each MNIST digit has its own full-ink level (252 in a quarter, 254 in a quarter): G's 1 is drawn at a level
    # per digit drawn from the training digits' levels, two thirds of the pixel TV (the critic is blind to it: real
    # digits moved between these levels leave it at 0.50; docs/training-notes.md#ink-levels)
    ink_levels=True,
    # with R1 on real digits, the objective that lifted recall most (docs/training-notes.md#loss,
    # docs/training-notes.md#r1)
    loss="nonsaturating", r1_gamma=1.0,
    # a small classifier of real digits beside D: every digit's accuracy over 99% in 12 CPU epochs
    # (docs/training-notes.md#aux-weight)
    aux_weight=0.3,
    # Adam without momentum (docs/training-notes.md#optimizer) at G's rate (docs/training-notes.md#lr), D at 4x G's
    # rate: at 2x, G out-ran D (docs/training-notes.md#d-lr-ratio)
    optimizer="adam", betas=(0.0, 0.9), lr=8e-4, d_lr_ratio=4.0,
    # 1.2x the images/s of batch 64 on a CPU; 64 bought a little FD for 1.2x the time
    # (docs/training-notes.md#batch-size)
    batch_size=128,
    # the quick budget's 15 minutes on a 2-core CPU; the last quarter at a quarter of the rate
    # (docs/training-notes.md#epochs)
    epochs=12, lr_drop_epoch=9, lr_drop_factor=0.25,
    # the saved G is the EMA of its weights: steadier than G itself (docs/training-notes.md#ema)
    ema_decay=0.999,
    # 500 training digits of each class are held out: the noise scale is chosen on them
    # (docs/training-notes.md#validation)
    validation=True,
    # the sampling noise's width: the lowest per-digit FD on the validation split (docs/training-notes.md#noise-scale)
    noise_scales=(0.95, 1.0, 1.05, 1.1),
)

RECIPES = {
    ("dcgan", "quick"): DCGAN_QUICK,
    # The full budget, the same on every device (docs/training-notes.md#full-budget): the quick recipe trained six times
    # as long, which lowered the C2ST, FD and per-digit FD most, with G's stage at 16 channels, which lowered the C2ST
    # twice as much as 8. The larger D with R1 at 3 (the GPU schedule's), 48 epochs in the same time, drew the digits
    # less reliably for no better recall. 72 epochs, the last quarter at a quarter of the rate, fit 2 hours on a 2-core
    # CPU with the evaluation, with a margin for a slower one. The classifier at 0.1 rather than the quick budget's 0.3:
    # 72 epochs read digits well without its full weight, and on the validation split 0.1 drew more recall, a better
    # worst digit and a lower C2ST than 0.3 or 0.03.
    ("dcgan", "full"): dataclasses.replace(DCGAN_QUICK, g_fine=16, epochs=72, lr_drop_epoch=54, aux_weight=0.1),
    # The report's network and recipe (SGD, BCE on 10 sigmoid outputs), kept to be beaten: 2 epochs take as long on a
    # CPU as the default's 12 (docs/training-notes.md#seed-recipe).
    ("seed", "quick"): Recipe(loss="seed", optimizer="sgd", lr=0.05, d_lr_ratio=1.0, betas=(0.5, 0.0), epochs=2,
                            batch_size=64, ema_decay=0.0, output="tanh", ink=255),
}
RECIPES[("seed", "full")] = RECIPES[("seed", "quick")]


def default_budget(device_type):
    """The budget of a run that names none: the full one where it takes minutes (a CUDA GPU), else the quick one."""
    return "full" if device_type == "cuda" else "quick"


def custom_recipe(arch=DEFAULT_ARCH, budget="quick", **changes):
    """The default recipe of `arch` and `budget` with some settings changed (for experiments and tests), checked."""
    recipe = dataclasses.replace(RECIPES[(arch, budget)], **changes)
    check_recipe(arch, recipe)
    return recipe


def check_recipe(arch, recipe):
    """ValueError naming the setting unless every value of `recipe` is one that `arch` can train with."""
    check_arch(arch, recipe.size, recipe.deep_d, recipe.d_size, recipe.output, recipe.d_stem, recipe.g_fine)
    if arch == "seed" and recipe.loss != "seed":
        raise ValueError(f"the seed architecture keeps the report's loss, got {recipe.loss!r}")
    if arch == "dcgan" and recipe.loss not in DCGAN_LOSSES:
        raise ValueError(f"loss must be one of {', '.join(DCGAN_LOSSES)} for dcgan, got {recipe.loss!r}")
    for name in ("r1_gamma", "aux_weight"):
        value = getattr(recipe, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be 0 or more, got {value!r}")
        if arch == "seed" and value:
            raise ValueError(f"the seed architecture keeps the report's loss; {name} is for dcgan")
    for name in ("epochs", "batch_size"):
        check_int(name, getattr(recipe, name), 1)
    if not (isinstance(recipe.lr, (int, float)) and math.isfinite(recipe.lr) and recipe.lr > 0):
        raise ValueError(f"lr must be a number above 0, got {recipe.lr!r}")
    epoch, factor = recipe.lr_drop_epoch, recipe.lr_drop_factor
    if epoch is not None:
        check_int("lr_drop_epoch", epoch, 0)
    if not (isinstance(factor, (int, float)) and 0 < factor <= 1):
        raise ValueError(f"lr_drop_factor must be more than 0 and at most 1, got {factor!r}")
    check_int("ink", recipe.ink, 1, 255)
    for scale in recipe.noise_scales:
        check_noise_scale(scale)
    if recipe.noise_scales and not recipe.validation:
        raise ValueError("choosing a noise scale needs the validation split (validation=True)")


def recipe_from_saved(config):
    """The recipe a saved run's config (state.pt's) trained with; ValueError naming what is missing for a run saved by
    an older version, whose settings this code no longer trains with."""
    saved = config.get("recipe")
    missing = sorted({field.name for field in dataclasses.fields(Recipe)} - set(saved or {}))
    if missing:
        raise ValueError(f"it was saved by an older version of train.py (its recipe has no {', '.join(missing)}), "
                         f"whose settings this code no longer trains with")
    return Recipe(**{**saved, "betas": tuple(saved["betas"]), "noise_scales": tuple(saved["noise_scales"])})
