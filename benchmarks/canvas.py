"""Drawings as a canvas gives them, made from MNIST digits, and scribbles drawn the same way: what the hands benchmark
and the tests feed `find_hand` in place of people drawing on the app's canvas (or any other).

A digit becomes strokes: its skeleton (the digit thinned to lines one pixel wide, at 4x MNIST's resolution) redrawn
with a round pen 3-8% of the canvas wide, hard-edged as a canvas draws, the digit 30-90% of the canvas's shorter
side, anywhere on a canvas 300-800 px wide and high, tilted up to 15 degrees either way; half dark ink on a white
page (grey, RGB), half light ink on a transparent one (RGBA), as a canvas in a dark theme gives it. A digit keeps
its shape and slant; its strokes are the pen's, not the writer's (MNIST's are 9-24% of a digit's height, 5-95%).
"""

import math

import numpy as np
from PIL import Image, ImageDraw
from scipy.interpolate import make_interp_spline
from skimage.morphology import skeletonize

CANVAS = (300, 800)  # px, each side
PEN = (0.03, 0.08)  # the pen's width, of the canvas's shorter side
SIZE = (0.3, 0.9)  # the digit's longer side, of the canvas's shorter side
TILT = 15  # degrees, either way
UPSCALE = 4  # the skeleton is taken at 4x MNIST's resolution, where it runs smoothly


def skeleton(digit):
    """(points (n, 2) as (x, y) in MNIST pixels, pairs (m, 2) of indices of neighbouring points): the digit's skeleton
    as a graph of pixels, each joined to its 8-neighbours."""
    big = Image.fromarray(np.asarray(digit, np.uint8)).resize((28 * UPSCALE,) * 2, Image.Resampling.BILINEAR)
    bones = skeletonize(np.asarray(big) > 100)
    index = np.full(bones.shape, -1)
    ys, xs = np.nonzero(bones)
    index[ys, xs] = np.arange(len(ys))
    pairs = []
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each neighbour once
        y2, x2 = ys + dy, xs + dx
        inside = (y2 < bones.shape[0]) & (x2 >= 0) & (x2 < bones.shape[1])
        other = np.full(len(ys), -1)
        other[inside] = index[y2[inside], x2[inside]]
        pairs.append(np.stack([np.arange(len(ys)), other], 1)[other >= 0])
    return (np.stack([xs, ys], 1) + 0.5) / UPSCALE, np.concatenate(pairs)


def draw_strokes(points, pairs, size, pen, ink, paper):
    """A canvas `size` (width, height) of colour `paper` with the strokes joining `pairs` of `points` (canvas pixels)
    drawn in `ink` with a round pen `pen` px wide, hard-edged: uint8 (H, W) or (H, W, C), as `paper` has channels."""
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[len(paper)]
    canvas = Image.new(mode, size, paper if len(paper) > 1 else paper[0])
    draw = ImageDraw.Draw(canvas)
    ink = ink if len(ink) > 1 else ink[0]
    r = pen / 2
    for a, b in pairs:
        draw.line([tuple(points[a]), tuple(points[b])], fill=ink, width=max(1, round(pen)))
    for x, y in points:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=ink)
    return np.asarray(canvas)


def canvas_style(rng):
    """(canvas size (width, height), pen px, ink colour, paper colour) of one drawing, the colours in the canvas's
    channels: dark ink (black to dark blue) on a white page, grey or RGB, or light ink on a transparent page (RGBA)."""
    size = tuple(int(v) for v in rng.integers(CANVAS[0], CANVAS[1], 2, endpoint=True))
    pen = rng.uniform(*PEN) * min(size)
    if rng.random() < 0.5:
        dark = int(rng.integers(0, 60))
        if rng.random() < 0.5:
            return size, pen, (dark,), (255,)
        return size, pen, (dark, dark, int(rng.integers(dark, 140))), (255, 255, 255)
    light = int(rng.integers(200, 256))
    return size, pen, (light, light, light, 255), (0, 0, 0, 0)


def canvas_drawing(digit, rng):
    """A uint8 MNIST digit (28, 28) as a person might draw it on some canvas (the module's text): an image array."""
    return canvas_row([digit], rng)


def canvas_row(digits, rng):
    """uint8 MNIST digits (28, 28) drawn side by side in one row, as canvas_drawing draws one: the row (its digits
    a little apart) 30-90% of the canvas's shorter side, or its width if that is larger."""
    points, pairs, offset = [], [], 0.0
    for digit in digits:
        bones, joints = skeleton(digit)
        bones = bones - [bones[:, 0].min() - offset, 0]
        pairs.append(joints + sum(len(p) for p in points))
        points.append(bones)
        offset = bones[:, 0].max() + 6  # a gap of a fifth of a digit
    points, pairs = np.concatenate(points), np.concatenate(pairs)
    size, pen, ink, paper = canvas_style(rng)
    angle = math.radians(rng.uniform(-TILT, TILT))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centred = (points - (points.min(0) + points.max(0)) / 2) @ rotation.T
    placed = centred * rng.uniform(*SIZE) * min(size) / max(np.ptp(centred, axis=0).max(), 1.0)
    low, high = placed.min(0) - pen, placed.max(0) + pen
    room = np.maximum(np.array(size) - (high - low), 0)
    return draw_strokes(placed - low + rng.uniform(0, 1, 2) * room, pairs, size, pen, ink, paper)


def canvas_scribble(rng):
    """A scribble drawn with a canvas's pen: a smooth random curve through 8-30 points (as many as the hands
    benchmark's scribbles have) over a part of the canvas as large as a digit drawn there."""
    size, pen, ink, paper = canvas_style(rng)
    side = min(size) * rng.uniform(*SIZE)
    corner = rng.uniform(0, 1, 2) * (np.array(size) - side)
    knots = corner + rng.uniform(0, side, (int(rng.integers(8, 31)), 2))
    path = make_interp_spline(np.arange(len(knots)), knots, k=3)(np.linspace(0, len(knots) - 1, 30 * len(knots)))
    path = path.clip(pen / 2, np.array(size) - pen / 2)
    pairs = np.stack([np.arange(len(path) - 1), np.arange(1, len(path))], 1)
    return draw_strokes(path, pairs, size, pen, ink, paper)
