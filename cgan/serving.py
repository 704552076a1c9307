"""What the app serves, with no Gradio in it: request parsing, crisp PNG-ready digits, the grid, the model's story.

Requests may come from the browser or from any API client, so every input is parsed here, whatever its type.
"""

import logging
import math
import numbers
import shutil
import tempfile
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cgan.generation import check_int
from cgan.hub import (BUNDLED_GENERATOR, EVALUATION_FILE, TRAINING_FILE, arch_name, load_generator, noise_scale_text,
                      read_model_json, resolve_source, training_summary)
from cgan.plots import grid_image

MAX_SAMPLES = 64
MAX_SEED = 2**32 - 1
SCALE = 4  # 28x28 digits are shown at 112x112, nearest-neighbour, so each pixel stays a sharp square

log = logging.getLogger("cgan.app")


def as_int(name, value, low, high):
    """Parse an int from an int, an integral float (sliders send 16.0) or a numeric string, in [low, high]."""
    original = value
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{name} must be an integer {low}-{high}, got {original!r}") from None
    if isinstance(value, float) and not isinstance(value, bool):
        if not (math.isfinite(value) and value.is_integer()):
            raise ValueError(f"{name} must be an integer {low}-{high}, got {original!r}")
        value = int(value)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer {low}-{high}, got {original!r}")
    return check_int(name, value, low, high)


def parse_request(digit, n, seed):
    """(digit, n, seed or None) from whatever a caller sent; ValueError with a clear message otherwise."""
    digit = as_int("digit", digit, 0, 9)
    n = as_int("n", n, 1, MAX_SAMPLES)
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        seed = None
    else:
        seed = as_int("seed", seed, 0, MAX_SEED)
    return digit, n, seed


def draw_seed():
    return int(np.random.default_rng().integers(0, MAX_SEED, endpoint=True))


def upscale(image, scale=SCALE):
    """Nearest-neighbour upscaling of a uint8 image, as a PIL image."""
    return Image.fromarray(image.repeat(scale, axis=0).repeat(scale, axis=1))


@dataclass
class Result:
    digit: int
    seed: int
    image_paths: list  # one PNG per digit, SCALE x upscaled
    grid_path: str  # the whole result as one PNG, for download


class ResultFiles:
    """Where results are written as PNG files: a folder per request under `root`, keeping the newest `keep`.

    The app puts `root` inside Gradio's cache, so Gradio serves the files as they are instead of encoding and
    copying each image again: that halves the time of a 64-digit request.
    """

    def __init__(self, root=None, keep=256):
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="cgan-results-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.recent = deque()
        self.keep = keep
        self.lock = threading.Lock()

    def save(self, images, name):
        """Write each image and the grid; returns (image paths, grid path)."""
        folder = self.root / uuid.uuid4().hex
        folder.mkdir()
        paths = []
        for i, image in enumerate(images):
            path = folder / f"{name}_{i + 1:02d}.png"
            upscale(image).save(path, compress_level=1)  # fast zlib: the files are tiny either way
            paths.append(str(path))
        grid = folder / f"{name}.png"
        upscale(grid_image(images, nrow=8), scale=2).save(grid, compress_level=1)
        with self.lock:
            self.recent.append(folder)
            stale = self.recent.popleft() if len(self.recent) > self.keep else None
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
        return paths, str(grid)


def serve(generator, files, digit, n, seed):
    """Generate a request's digits: the gallery's PNG files, the seed used and the downloadable grid PNG."""
    digit, n, seed = parse_request(digit, n, seed)
    if seed is None:
        seed = draw_seed()
    images = generator.generate(digit, n, seed)
    paths, grid = files.save(images, f"digit-{digit}_n-{n}_seed-{seed}")
    return Result(digit, seed, paths, grid)


def load_for_app(source=None):
    """The app's generator: $CGAN_MODEL (or `source`) if it loads, else the bundled one, with a log line saying so."""
    wanted = resolve_source(source)
    try:
        return load_generator(wanted)
    except Exception as error:  # the Hub out of reach, a bad repo id, missing files: serve the bundled model
        if Path(wanted).resolve() == BUNDLED_GENERATOR.resolve():
            raise
        log.warning("could not load model %s (%s: %s); falling back to the bundled %s",
                    wanted, type(error).__name__, error, BUNDLED_GENERATOR)
        return load_generator(BUNDLED_GENERATOR)


def describe(generator):
    """Markdown for the app's "About this model" section."""
    source = generator.source
    where = ("the bundled `checkpoints/generator` folder" if Path(source).resolve() == BUNDLED_GENERATOR.resolve()
             else f"`{source}`" + ("" if Path(source).exists() else f" ([Hub](https://huggingface.co/{source}))"))
    lines = [f"**Weights:** {where}.", f"**Architecture:** {arch_name(generator.arch, generator.size)} conditional GAN "
             f"({sum(p.numel() for p in generator.parameters()):,} generator parameters)."]
    training = read_model_json(source, TRAINING_FILE)
    if training:
        lines.append(f"**Training:** {training_summary(training)}.")
    if generator.noise_scale != 1:
        lines.append(f"**Sampling:** {noise_scale_text(generator.noise_scale)}.")
    evaluation = read_model_json(source, EVALUATION_FILE)
    if evaluation:
        m, real = evaluation["model"], evaluation["real"]
        lines.append(
            f"**Measured quality** ({evaluation['n_per_digit']} samples per digit, judged by the project's own MNIST "
            f"classifier against the 10,000 test images): the requested digit is drawn {m['accuracy']:.2%} of the "
            f"time (worst digit {m['accuracy_min']:.2%}); Fréchet distance {m['fd']:.2f} (real digits: "
            f"{real['fd']:.2f}); precision {m['precision']:.2f}, recall {m['recall']:.2f}."
        )
    return "\n\n".join(lines)
