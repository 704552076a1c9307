"""What the app serves, with no Gradio in it: request parsing, crisp PNG-ready digits, the grid, the model's story.

Requests may come from the browser or from any API client, so every input is parsed here, whatever its type.
"""

import functools
import logging
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from starlette.requests import ClientDisconnect

from cgan.checks import check_int
from cgan.drawings import check_number_text
from cgan.generation import MAX_SEED, NOISE_SCALES, STYLE_RANGE, check_noise_scale, check_style, new_seed
from cgan.hub import (
    BUNDLED_GENERATOR,
    TRAINING_FILE,
    arch_name,
    load_generator,
    noise_scale_text,
    read_evaluation,
    read_model_json,
    resolve_source,
    training_summary,
)
from cgan.plots import grid_image

MAX_SAMPLES = 64
MAX_HANDS = 8  # samples of a written number
MAX_ROWS = 16  # rows of "one hand, 0-9"
FRAMES = (8, 48)  # a morph's frame count

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


def is_empty(value):
    return value is None or (isinstance(value, str) and not value.strip())


def parse_seed(seed, name="seed"):
    """A seed 0 to MAX_SEED, or None for an empty box."""
    return None if is_empty(seed) else as_int(name, seed, 0, MAX_SEED)


def parse_noise_scale(value):
    """A noise scale in NOISE_SCALES (sliders send floats, API callers anything, text too), or None for the model's
    own; ValueError naming what was sent otherwise."""
    if is_empty(value):
        return None
    try:
        return check_noise_scale(float(value.strip()) if isinstance(value, str) else value)
    except ValueError:
        low, high = NOISE_SCALES
        raise ValueError(f"noise_scale must be a number {low}-{high}, got {value!r}") from None


def parse_style(slant, weight):
    """(slant, weight) in STYLE_RANGE from whatever a caller sent (sliders send floats, API callers anything, text
    too), 0 for an empty one, as a call that leaves them out; ValueError naming what was sent otherwise."""
    def parse(name, value):
        if is_empty(value):
            return 0.0
        try:
            return check_style(name, float(value.strip()) if isinstance(value, str) else value)
        except ValueError:
            low, high = STYLE_RANGE
            raise ValueError(f"{name} must be a number {low:g} to {high:g} (0: unchanged), got {value!r}") from None
    return parse("slant", slant), parse("weight", weight)


def style_tag(slant, weight):
    """What a result file's name says of its slant and weight: nothing for the hand as it is."""
    return "" if slant == weight == 0 else f"_slant-{slant:g}_weight-{weight:g}"


def parse_request(digit, n, seed, noise_scale=None):
    """(digit, n, seed or None, noise scale or None) from whatever a caller sent; ValueError with a clear message
    otherwise."""
    return as_int("digit", digit, 0, 9), as_int("n", n, 1, MAX_SAMPLES), parse_seed(seed), parse_noise_scale(noise_scale)


@dataclass
class Result:
    digit: int
    seed: int
    image_paths: list  # one PNG per digit, 28x28
    grid_path: str  # the whole result as one PNG, for download


@dataclass
class Picture:
    """A result shown as one picture (a PNG, or an animated GIF for a morph), which is also its download."""
    path: str
    seeds: tuple  # the seeds used: one, or (from, to) for a morph


def draw_digits(generator, digit, n, seed, noise_scale, slant, weight):
    """A Digits request parsed, its seed drawn if empty, and its digits drawn: (the digit, the seed, the noise scale,
    the name of its files less the noise scale's tag, the images)."""
    digit, n, seed, noise_scale = parse_request(digit, n, seed, noise_scale)
    slant, weight = parse_style(slant, weight)
    seed = new_seed() if seed is None else seed
    name = f"digit-{digit}_n-{n}_seed-{seed}{style_tag(slant, weight)}"
    return digit, seed, noise_scale, name, generator.generate(digit, n, seed, noise_scale, slant=slant, weight=weight)


def serve(generator, files, digit, n, seed, noise_scale=None, slant=None, weight=None):
    """Generate a request's digits: the gallery's PNG files, the seed used and the downloadable grid PNG."""
    digit, seed, _, name, images = draw_digits(generator, digit, n, seed, noise_scale, slant, weight)
    paths, grid = files.save(images, name)
    return Result(digit, seed, paths, grid)


def serve_grid(generator, files, digit, n, seed, noise_scale=None, slant=None, weight=None):
    """A request's digits as one picture, 8 to a row (2x upscaled): what the app shows and what its download saves.
    One file per request where a gallery takes one per digit, each a request of the browser's."""
    _, seed, noise_scale, name, images = draw_digits(generator, digit, n, seed, noise_scale, slant, weight)
    picture = files.save_picture(grid_image(images, nrow=8), name + scale_tag(noise_scale), scale=2)
    return Picture(picture, (seed,))


def scale_tag(noise_scale):
    return "" if noise_scale is None else f"_scale-{noise_scale:g}"


def serve_number(generator, files, text, n, seed, noise_scale=None, slant=None, weight=None):
    """A number written by `n` hands, one under the other, as one picture."""
    text = check_number_text(text)
    n, seed, noise_scale = as_int("n", n, 1, MAX_HANDS), parse_seed(seed), parse_noise_scale(noise_scale)
    slant, weight = parse_style(slant, weight)
    seed = new_seed() if seed is None else seed
    sheet = grid_image(generator.write_number(text, n, seed, noise_scale, slant=slant, weight=weight), nrow=1)
    name = f"number-{text.replace(' ', '-')}_n-{n}_seed-{seed}{scale_tag(noise_scale)}{style_tag(slant, weight)}"
    return Picture(files.save_picture(sheet, name), (seed,))


def serve_style_rows(generator, files, n, seed, noise_scale=None, slant=None, weight=None):
    """`n` hands, each writing 0-9 in a row, as one picture."""
    n, seed, noise_scale = as_int("n", n, 1, MAX_ROWS), parse_seed(seed), parse_noise_scale(noise_scale)
    slant, weight = parse_style(slant, weight)
    seed = new_seed() if seed is None else seed
    rows = generator.style_rows(n, seed, noise_scale, slant=slant, weight=weight)
    sheet = grid_image(rows.reshape(-1, 28, 28), nrow=10)
    name = f"hands-0-9_n-{n}_seed-{seed}{scale_tag(noise_scale)}{style_tag(slant, weight)}"
    return Picture(files.save_picture(sheet, name), (seed,))


def serve_morph(generator, files, digit, to_digit, seed, to_seed, frames, noise_scale=None, slant=None, weight=None):
    """A morph from `digit` drawn with `seed` to `to_digit` drawn with `to_seed` (empty: the same seed), as a GIF."""
    digit, to_digit = as_int("digit", digit, 0, 9), as_int("to_digit", to_digit, 0, 9)
    seed, to_seed = parse_seed(seed), parse_seed(to_seed, "to_seed")
    frames, noise_scale = as_int("frames", frames, *FRAMES), parse_noise_scale(noise_scale)
    slant, weight = parse_style(slant, weight)
    seed = new_seed() if seed is None else seed
    to_seed = seed if to_seed is None else to_seed
    if (digit, seed) == (to_digit, to_seed):
        raise ValueError("a morph needs two different digits or two different seeds (to_seed empty: the same seed)")
    animation = generator.morph(digit, to_digit, seed, to_seed, frames, noise_scale, slant=slant, weight=weight)
    name = (f"morph-{digit}-to-{to_digit}_seed-{seed}-to-{to_seed}_frames-{frames}{scale_tag(noise_scale)}"
            f"{style_tag(slant, weight)}")
    return Picture(files.save_animation(animation, name), (seed, to_seed))


CANVAS = 280  # px: the side of the My hand tab's canvas
PEN = 9  # px: the radius of its pen, 6% of the canvas wide: a pen's stroke on a digit drawn across most of the canvas


def example_drawing():
    """A 7 as a visitor might draw it with a mouse on the app's canvas with its pen, black on white: the hand the My
    hand tab shows before anything is drawn."""
    canvas = Image.new("L", (CANVAS, CANVAS), 255)
    ImageDraw.Draw(canvas).line([(76, 70), (204, 62), (132, 222)], fill=0, width=2 * PEN, joint="curve")
    return np.asarray(canvas)


EXAMPLE_DRAWING = example_drawing()


@functools.lru_cache(maxsize=128)  # as many noise scales as the tab's slider offers
def example_hand(generator, noise_scale=None):
    """The example drawing's hand, found once per generator and noise scale."""
    return generator.find_hand(EXAMPLE_DRAWING, noise_scale=noise_scale)


@dataclass
class Written:
    """A number written in the hand of a drawing: the number (a PNG, which is also the download), and what the model
    understood the drawing as, its digit drawn in that hand beside the drawing as prepared (a PNG)."""
    path: str
    understood_path: str
    digit: int


def serve_my_hand(generator, files, image, text, noise_scale=None, slant=None, weight=None):
    """`text` written in the hand of `image`, a drawing of one digit (an array, as a canvas or a picture file gives
    it), steered to `slant` and `weight`: ValueError for an empty drawing, a scribble, or a bad number, noise scale
    or style."""
    text, noise_scale = check_number_text(text), parse_noise_scale(noise_scale)
    slant, weight = parse_style(slant, weight)
    if image is None:
        raise ValueError("the drawing is empty: draw a digit")
    hand = generator.find_hand(image, noise_scale=noise_scale)
    return written_in(generator, files, hand, text, slant, weight)


def serve_example_hand(generator, files, text, noise_scale=None, slant=None, weight=None):
    """`text` written in the example drawing's hand: what the My hand tab shows while its canvas is empty (before
    anything is drawn, once it is cleared), from a hand found once per noise scale, so an empty canvas costs no
    search."""
    text, noise_scale = check_number_text(text), parse_noise_scale(noise_scale)
    slant, weight = parse_style(slant, weight)
    return written_in(generator, files, example_hand(generator, noise_scale), text, slant, weight)


def written_in(generator, files, hand, text, slant, weight):
    """A checked number `text` written in `hand`, steered to a checked `slant` and `weight`, beside what was read: a
    Written."""
    number = grid_image(generator.write_number(text, hand=hand, slant=slant, weight=weight), nrow=1)
    understood = grid_image(np.stack([hand.drawing, generator.generate(hand.digit, hand=hand)[0]]), nrow=2)
    name = f"my-hand-{hand.digit}_number-{text.replace(' ', '-')}{style_tag(slant, weight)}"
    return Written(files.save_picture(number, name), files.save_picture(understood, f"{name}_read"), hand.digit)


class VisitorsLeaving:
    """ASGI middleware: a visitor who leaves while their request is still being read (a tab closed while the
    sketchpad uploads its layer) is no fault of the server: a log line, where Gradio's upload route lets starlette's
    ClientDisconnect through to the server as a traceback. Anything else goes on as it was raised."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            log.info("a visitor left during a request to %s", scope.get("path"))


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
    evaluation = read_evaluation(source)
    if evaluation:
        m, real = evaluation["model"], evaluation["real"]
        lines.append(
            f"**Measured quality** ({evaluation['n_per_digit']} samples per digit, judged by the project's own MNIST "
            f"classifier against the 10,000 test images): the requested digit is drawn {m['accuracy']:.2%} of the "
            f"time (worst digit {m['accuracy_min']:.2%}); Fréchet distance {m['fd']:.2f} (real digits: "
            f"{real['fd']:.2f}); precision {m['precision']:.2f}, recall {m['recall']:.2f}."
            + (f" A fresh critic trained to tell its digits from real ones is right {m['c2st']:.0%} of the time "
               f"(50% would be a coin toss; real digits: {real['c2st']:.0%})." if "c2st" in m else "")
        )
    else:
        lines.append("**Measured quality:** not measured for these weights (`python -m cgan.evaluate --save`).")
    return "\n\n".join(lines)
