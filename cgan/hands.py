"""Hands: the noise vector that writes like a drawing, and how a hand is measured.

The noise decides how a digit is written and the label which, so one noise vector writes every digit in one hand.
`find_hand` finds the noise vector whose drawing of a digit matches a person's drawing of it; the generator then
writes any number in that person's hand (`generate(..., hand=)`, `write_number(..., hand=)`).

A drawing is first prepared as MNIST prepared its digits (`prepare_drawing`), and read by the reader (a network
trained on digits drawn as a pen on a canvas draws them, cgan/reader.py) unless the digit is given. The search
starts from the best of a batch of noise vectors drawn from the prior, then moves the best few by gradient steps
towards the drawing, in the evaluation classifier's features and in pixels, each kept on the sphere where the
prior's noise vectors lie: the generator never draws with noise it was not trained on, so the other digits it
writes in the hand stay good digits.

A drawing that cannot be read as one digit is refused with what to change (a Refusal): empty, too faint, strokes too
thick for its size ("draw larger"), several digits side by side ("draw one digit only"), more lines and loops than a
digit has, or like no digit the model writes. Where those lines lie (Thresholds) is chosen per model on held-out
digits and saved beside its weights.
"""

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from cgan.checks import check_int
from cgan.classifier import BUNDLED_READER, load_classifier
from cgan.data import to_model_range
from cgan.models import NUM_CLASSES

BOX = 20  # MNIST's digits were scaled to fit 20x20, keeping their aspect ...
CENTRE = 14.0  # ... and moved so that their centre of mass lies at (14, 14) of the 28x28 image
INK = 0.1  # a pixel with a tenth of the drawing's full ink or more is part of the digit
FAINT = 0.3  # a drawing whose strongest stroke stands out from the page by less than this (of black on white) is
# refused as too faint ...
PIECE, PIECE_HEIGHT = 0.15, 0.6  # ... and one that is pieces side by side (side_by_side) is not read as one digit
STROKES = 8  # a drawing's strokes are measured at 8x MNIST's box, where a stroke is many pixels wide
SEARCH_SEED = 0  # the prior's candidates are always the same ones: the same drawing gives the same hand
UNIT = 0.85  # standard deviations of its digit's slant or stroke weight one unit of a style axis moves a digit
# (cgan.style, which calibrates the directions to it, says how it was chosen): -2 to 2 asks for 3.4 of them
THRESHOLDS_FILE = "hands.json"  # a model's own Thresholds, saved beside its weights by
# python -m benchmarks.hands --validation --save


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Where a drawing stops being taken for a digit. Each is chosen on held-out training digits (as drawn, and
    redrawn as canvases give them) by `python -m benchmarks.hands --validation --save`, which writes a model's own
    into THRESHOLDS_FILE beside its weights, for those weights and the bundled reader's; these defaults were chosen
    so for the model bundled until 2026-12-05 (500 held-out digits, the evaluation classifier reading them), on which
    85% of random scribbles lie beyond max_distance."""

    min_confidence: float = 0.6  # the reader reads a drawing with less: no digit
    max_distance: float = 3.0  # the closest drawing by the model lies further (the 99.9th percentile): no digit
    max_stroke: float = 6.9  # strokes wider than this in MNIST's pixels (the 99.9th percentile; the median is 2.8):
    # a digit drawn small with a thick pen, a blob
    max_length: float = 58.0  # strokes longer than this in all, in MNIST's pixels (a digit's are 37 (median) ...
    max_holes: int = 3  # ... and it encloses 0-2 holes, an 8 2): a scribble (500 held-out digits, 2026-12-05)


def model_thresholds(generator):
    """The Thresholds saved with `generator`'s weights (THRESHOLDS_FILE, when it was made for these very weights and
    the bundled reader's: min_confidence is the reader's), or the defaults for a model that has none."""
    source = getattr(generator, "source", None)
    if source is None:
        return Thresholds()
    from cgan.hub import read_model_json, weights_sha256  # here: cgan.hub imports the generator, which imports this
    saved = read_model_json(source, THRESHOLDS_FILE)
    if saved is None or saved.get("weights_sha256") != weights_sha256(source) or \
            saved.get("reader_sha256") != weights_sha256(BUNDLED_READER):
        return Thresholds()
    return Thresholds(**{field.name: field.type(saved[field.name]) for field in dataclasses.fields(Thresholds)})


@dataclasses.dataclass(frozen=True)
class Search:
    """How a hand is searched for: the best `kept` of `candidates` noise vectors from the prior, each moved by up to
    `steps` Adam steps towards the drawing, in the classifier's features and in pixels (mean squared errors, each
    about 1 for a poor match), and kept where the prior's noise lies: back on its sphere after each step ("sphere"),
    or pulled towards it by `prior_weight` x |z|^2 / 2 ("pull"). The search stops early once a candidate's drawing
    lies within `close_enough` of the drawing's in the classifier's features (about the distance a Hand reports, which
    is measured on the digits as drawn, in whole pixel values)."""

    candidates: int = 64
    kept: int = 8
    steps: int = 60
    close_enough: float = 1.0  # chosen on 500 held-out digits: all the steps (or 0.8) gave ink rho 0.885 (0.863),
    # this 0.851 at a quarter (half) of the time, 1.3 lost the ink (0.789); docs/training-notes.md#e32
    learning_rate: float = 0.08  # times the noise scale
    feature_weight: float = 1.0
    pixel_weight: float = 4.0
    prior: str = "sphere"
    prior_weight: float = 0.0


SEARCH = Search()


@dataclasses.dataclass(frozen=True)
class Hand:
    """A hand found from a drawing: `digit` (the one read, or given), `z` (the noise vector, float (z_dim,)) and
    `distance` (between the drawing and the generator's drawing of `digit` in this hand, in the classifier's
    features: lower is closer). `drawing` is the prepared drawing, uint8 (28, 28). `style`, float (10, 2) or None,
    is each digit's slant and stroke weight in standard units (cgan.style), added to those a drawing method is asked
    for: what carries the drawing's own slant and boldness over to the digits the person did not draw."""

    digit: int
    z: torch.Tensor
    distance: float
    drawing: np.ndarray
    style: torch.Tensor | None = None


class Refusal(ValueError):
    """A drawing not taken for a digit: what to change, in words for the person who drew it, and its `cause`, one of
    CAUSES."""

    def __init__(self, cause, message):
        super().__init__(message)
        self.cause = cause


CAUSES = ("empty", "faint", "small", "pieces", "tangle", "unreadable")


def prepare_drawing(image):
    """A drawing as MNIST prepared its digits: uint8 (28, 28), ink 255 on 0. `image` is any size, (H, W), RGB or RGBA
    (transparent pixels are background), uint8 or float in [0, 1], ink light on dark or dark on light, as a canvas
    or a photo of paper gives it. The ink's bounding box is scaled to fit 20x20 keeping its aspect, averaged down
    (anti-aliased) or smoothly up, and placed in 28x28 with its centre of mass at (14, 14). ValueError for an
    image that is not one, Refusal for one that holds no ink."""
    return mnist_layout(ink_crop(image)[0])


def mnist_layout(crop):
    """The ink of a digit cropped to its bounding box (float, 1 = full ink) as MNIST laid its digits out (see
    prepare_drawing)."""
    scale = BOX / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))  # (width, height)
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    digit = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, resample)).clip(0, 1)
    ys, xs = np.indices(digit.shape)
    mass = digit.sum()
    top = round(CENTRE - (ys * digit).sum() / mass)
    left = round(CENTRE - (xs * digit).sum() / mass)
    out = np.zeros((28, 28), dtype=np.float64)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + digit.shape[0], 28), min(left + digit.shape[1], 28)
    out[y0:y1, x0:x1] = digit[y0 - top:y1 - top, x0 - left:x1 - left]
    return (out * 255).round().astype(np.uint8)


def read_drawing(source):
    """A picture file of a drawing (a path or a file object; PNG, JPEG, any mode) as an RGBA uint8 array, for
    prepare_drawing; ValueError for anything that is not a picture that can be read."""
    try:
        with Image.open(source) as picture:
            return np.asarray(picture.convert("RGBA"))
    except (OSError, TypeError, ValueError, AttributeError):
        raise ValueError("the drawing must be a picture file (PNG or JPEG) of one digit drawn by hand") from None


def ink_crop(image):
    """(the ink of `image` cropped to the digit's bounding box, 0 (background) to 1 (its strongest stroke), how much
    its strongest stroke stands out from the page, 0-1). Refusal for a drawing with no ink."""
    a = np.asarray(image)
    if a.dtype == bool:
        a = a.astype(np.float64)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.dtype.kind not in "uif" or \
            min(a.shape[:2]) < 1:
        raise ValueError(f"a drawing must be a grey, RGB or RGBA image, got an array of shape {a.shape}, "
                         f"{a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError("a drawing's pixels must be finite numbers")
    if a.max() > 1:
        a = a / 255
    alpha = a[..., 3] if a.ndim == 3 and a.shape[2] == 4 else None
    grey = a if a.ndim == 2 else a[..., :3].mean(axis=2) if a.shape[2] != 1 else a[..., 0]
    if alpha is not None and alpha.min() < 0.99:
        # Transparent pixels are background: laid on the paper the visible strokes are not (white under dark ink).
        paper = 1.0 if np.average(grey, weights=alpha + 1e-9) < 0.5 else 0.0
        grey = grey * alpha + paper * (1 - alpha)
    background = np.median(grey)  # most of a drawing is its background
    ink = (background - grey) if background >= 0.5 else (grey - background)
    contrast = ink.max()
    if contrast < 0.1:
        raise Refusal("empty", "the drawing is empty: draw a digit")
    ink = (ink / contrast).clip(0, 1)
    rows, cols = np.nonzero(ink >= INK)
    return ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1], contrast


def strokes(crop):
    """The digit's strokes in `crop` (ink cropped to its box) at STROKES x MNIST's box: bool, its longer side
    BOX * STROKES, a pixel with half the full ink or more being ink."""
    scale = BOX * STROKES / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    return np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.BILINEAR)) >= 0.5


def stroke_width(ink):
    """The mean width of the strokes `ink` (bool, at STROKES x MNIST's box), in MNIST's pixels: across a stroke of
    width w the distance to its edge runs from 0 to w/2 and back, a mean of w/4."""
    inside = ndimage.distance_transform_edt(np.pad(ink, 1))
    return 4 * inside[inside > 0].mean() / STROKES if inside.any() else 0.0


def stroke_length(ink):
    """The length of the strokes `ink` (bool, at STROKES x MNIST's box) in all, in MNIST's pixels: their area over
    their width."""
    width = stroke_width(ink)
    return float(ink.sum()) / STROKES**2 / width if width else 0.0


def holes(ink):
    """How many holes the strokes `ink` (bool) enclose: the pieces of the page they cut off from its edge."""
    _, pieces = ndimage.label(~np.pad(ink, 1))
    return pieces - 1


def side_by_side(ink):
    """Whether `ink` (bool) is several pieces side by side, as digits written in a row: two of its pieces, each with
    a PIECE share of its ink and as tall as a PIECE_HEIGHT share of it, whose columns do not overlap."""
    labels, count = ndimage.label(ink, structure=np.ones((3, 3)))
    if count < 2:
        return False
    mass = np.bincount(labels.ravel())[1:]
    pieces = [box for box, m in zip(ndimage.find_objects(labels), mass, strict=True)
              if m >= PIECE * mass.sum() and box[0].stop - box[0].start >= PIECE_HEIGHT * ink.shape[0]]
    columns = sorted((box[1].start, box[1].stop) for box in pieces)
    return any(right[0] >= left[1] for left, right in zip(columns, columns[1:]))


def drawing_refusal(crop, contrast, thresholds):
    """Why a drawing (its ink cropped, and its contrast, as ink_crop gives them) cannot be read as one digit, whatever
    the classifier makes of it (a Refusal), or None."""
    if contrast < FAINT:
        return Refusal("faint", "the drawing is too faint to read: draw with darker strokes")
    ink = strokes(crop)
    if stroke_width(ink) > thresholds.max_stroke:
        return Refusal("small", "the strokes are too thick for so small a digit: draw larger")
    if side_by_side(ink):
        return Refusal("pieces", "the drawing looks like several digits side by side: draw one digit only")
    if stroke_length(ink) > thresholds.max_length or holes(ink) > thresholds.max_holes:
        return Refusal("tangle", "the drawing has more lines and loops than a digit: draw one digit, not a scribble")
    return None


def classifier_range(images, ink):
    """The generator's float images (N, 1, 28, 28), 1 = full ink at `ink`, in the classifier's range (1 = 255)."""
    return (images + 1) * (ink / 255) - 1


def refusal(digit, confidence, thresholds, distance=0.0):
    """Why a drawing the reader reads as `digit` with `confidence`, and whose closest drawing by the model lies at
    `distance`, is not taken for a digit at `thresholds` (a Refusal), or None where it is taken."""
    if confidence < thresholds.min_confidence:
        return Refusal("unreadable", f"the drawing does not look like a digit (at best a {digit}, {confidence:.0%} "
                                     f"sure): draw one digit, not a scribble")
    if distance > thresholds.max_distance:
        return Refusal("unreadable", f"the drawing does not look like a digit (the closest {digit} the model can "
                                     f"write is far from it): draw one digit, not a scribble")
    return None


class HandFinder:
    """Finds hands for one generator: reads a drawing with the `reader` (None: the bundled one), searches as `search`
    says in the features of the evaluation `classifier` (None: the bundled one), each loaded once, and refuses
    drawings at `thresholds` (None: the generator's own, model_thresholds)."""

    def __init__(self, generator, classifier=None, search=SEARCH, thresholds=None, reader=None):
        self.generator = generator
        self.classifier = (classifier or load_classifier()).eval().requires_grad_(False)
        self.reader = (reader or load_classifier(BUNDLED_READER)).eval().requires_grad_(False)
        self.search = search
        self.thresholds = thresholds or model_thresholds(generator)

    def read(self, drawing):
        """(the digit the reader reads in a prepared drawing, its confidence)."""
        with torch.inference_mode():
            probabilities = self.reader(torch.from_numpy(drawing)[None]).softmax(1)[0]
        return int(probabilities.argmax()), float(probabilities.max())

    def find(self, image, digit=None, noise_scale=None):
        """The hand of `image` (see the module's text): a Hand. `digit` None reads it with the reader, and a
        drawing that drawing_refusal or refusal refuses at the finder's thresholds is refused; `noise_scale` (None:
        the generator's own) is the prior the hand is searched in. ValueError for what is no image, Refusal for an
        empty or a refused drawing."""
        if digit is not None:
            return self.carried(self.match(prepare_drawing(image), check_int("digit", digit, 0, NUM_CLASSES - 1),
                                           noise_scale))
        hand, _, reason = self.attempt(image, noise_scale)
        if reason:
            raise reason
        return hand

    def attempt(self, image, noise_scale=None, search_refused=False):
        """(the hand of `image` or None, the reader's confidence in the digit it reads, why the drawing is refused
        (a Refusal) or None), the hand searched for the digit the reader reads. A drawing refused before the
        search (its shape, or read with too little confidence) is not searched, which would cost the search's steps,
        and has no hand; `search_refused` searches it all the same and gives every hand (a benchmark measures how far
        a refused drawing lies). ValueError for what is no image, Refusal for an empty drawing."""
        crop, contrast = ink_crop(image)
        drawing = mnist_layout(crop)
        digit, confidence = self.read(drawing)
        reason = drawing_refusal(crop, contrast, self.thresholds) or refusal(digit, confidence, self.thresholds)
        if reason and not search_refused:
            return None, confidence, reason
        hand = self.match(drawing, digit, noise_scale)
        reason = reason or refusal(digit, confidence, self.thresholds, hand.distance)
        return (None if reason and not search_refused else self.carried(hand)), confidence, reason

    def carried(self, hand):
        """`hand` with the `style` that carries its drawing's slant and boldness over to every digit. The search
        matches the digit drawn; the same noise writes another digit as that digit's own style of it, which may lean
        or weigh differently. So each other digit is steered, as the style sliders steer it, as far (in its digit's
        standard deviations) from what is usual for it as the drawing lies from what is usual for its own (the usual,
        as its style directions hold it). Boldness is the mean of stroke weight and ink: a bold hand writes thick
        strokes, and much ink (a wide or a large hand too; on held-out digits this carried the ink over at Spearman
        0.93 where stroke weight alone gave 0.87, and stroke weight at 0.94 where it gave 0.95: docs/training-notes.md,
        E43). A model without style directions gives the hand as it was found."""
        if (style := self.generator.style) is None:
            return hand
        mean, sd = style.usual_mean, style.usual_sd
        drawn = (carried_measures(hand.drawing) - mean[hand.digit]) / sd[hand.digit]  # (3,)
        written = (carried_measures(self.generator.style_rows(1, hand=hand)[0]) - mean) / sd  # (10, 3): as found
        gap = drawn - written
        steps = torch.stack([gap[:, 0], (gap[:, 1] + gap[:, 2]) / 2], dim=1) / UNIT
        steps[hand.digit] = 0  # the search matched it
        return dataclasses.replace(hand, style=steps)

    def match(self, drawing, digit, noise_scale=None):
        """The Hand whose drawing of `digit` comes closest to a prepared `drawing`, whatever how close: the search."""
        generator, classifier, search = self.generator, self.classifier, self.search
        scale = generator.sampling_scale(noise_scale)
        radius = scale * math.sqrt(generator.z_dim)  # where the prior's noise vectors lie
        device = next(generator.parameters()).device
        target = to_model_range(torch.from_numpy(drawing)[None], generator.ink).to(device)
        with torch.no_grad():
            target_features = classifier.features(torch.from_numpy(drawing)[None].to(device))

        def features(z):
            drawn = generator.net(z, torch.full((len(z),), digit, device=device))
            return drawn, classifier.features(classifier_range(drawn, generator.ink))

        def loss(z):
            """(each candidate's mismatch, its distance in the classifier's features)."""
            drawn, drawn_features = features(z)
            difference = drawn_features - target_features
            mismatch = (search.feature_weight * difference.square().mean(1)
                        + search.pixel_weight * (drawn - target).square().mean((1, 2, 3)))
            if search.prior == "pull":
                mismatch = mismatch + search.prior_weight * z.square().sum(1) / (2 * scale**2 * generator.z_dim)
            return mismatch, difference.detach().norm(dim=1)

        rng = torch.Generator().manual_seed(SEARCH_SEED)
        z = torch.randn(search.candidates, generator.z_dim, generator=rng).to(device) * scale
        with torch.no_grad():
            z = z[loss(z)[0].argsort()[:search.kept]].clone()
        z.requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=search.learning_rate * scale)
        for _ in range(search.steps):
            optimizer.zero_grad(set_to_none=True)
            mismatch, distance = loss(z)
            if distance.min() <= search.close_enough:  # most drawings are matched well long before the last step
                break
            mismatch.sum().backward()
            optimizer.step()
            if search.prior == "sphere":
                with torch.no_grad():
                    z.mul_(radius / z.norm(dim=1, keepdim=True))
        # The match as it is seen: the generator's digits as it draws them (uint8, at their hands' ink levels).
        z = z.detach().cpu()
        drawn = torch.from_numpy(generator.draw(z, torch.full((len(z),), digit)))
        with torch.no_grad():
            distances = (classifier.features(drawn.to(device)) - target_features).norm(dim=1)
        best = int(distances.argmin())
        return Hand(digit, z[best], float(distances[best]), drawing)


# --- how a hand is measured: ink and slant, and how much one noise vector's digits share them -------------------


def stroke_style(images):
    """(..., 28, 28) uint8 digits -> (..., 2): how much ink and how slanted (the shear of the ink's second moments),
    the two things a person first notices about a hand."""
    x = torch.as_tensor(np.asarray(images)).float() / 255
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    ink = x.sum((-2, -1)).clamp_min(1e-6)
    cx, cy = (x * xs).sum((-2, -1)) / ink, (x * ys).sum((-2, -1)) / ink
    dx, dy = xs - cx[..., None, None], ys - cy[..., None, None]
    slant = (x * dx * dy).sum((-2, -1)) / (x * dy * dy).sum((-2, -1)).clamp_min(1e-6)
    return torch.stack([ink, slant], dim=-1)


def slant(images):
    """(..., 28, 28) uint8 digits -> (...): how far the ink leans to the right, the shear of its second moments
    (cgan.hands.stroke_style) with its sign turned, so that a digit leaning right is positive: the pixels its ink moves
    to the right for each pixel up."""
    return -stroke_style(images)[..., 1]


def stroke_weight(images):
    """(..., 28, 28) uint8 digits -> (...): ink per length of stroke, in pixels: the ink's area (each pixel's ink
    summed, full ink = 1) over half the length of its outline (the magnitude of its gradient summed, by central
    differences: a stroke's two edges, each crossed once by its full ink). A straight stroke w pixels wide and much
    longer measures about w (16 pixels long: 0.8 w) at any angle and any ink level; a faint stroke weighs no less."""
    x = F.pad(torch.from_numpy(np.array(images, dtype=np.float32)) / 255, (1, 1, 1, 1))
    across = (x[..., 1:-1, 2:] - x[..., 1:-1, :-2]) / 2
    down = (x[..., 2:, 1:-1] - x[..., :-2, 1:-1]) / 2
    outline = torch.sqrt(across**2 + down**2).sum((-2, -1))
    return 2 * x.sum((-2, -1)) / outline.clamp_min(1e-6)


def measure(images):
    """(..., 28, 28) uint8 digits -> (..., 2): slant and stroke weight (STYLE_AXES' order)."""
    return torch.stack([slant(images), stroke_weight(images)], dim=-1)


def carried_measures(images):
    """(..., 28, 28) uint8 digits -> (..., 3): slant, stroke weight and ink (its sum, full ink = 1): what a found hand
    carries over to the digits not drawn (HandFinder.carried)."""
    return torch.cat([measure(images), stroke_style(images)[..., :1]], dim=-1)


def hand_ratio(features):
    """(rows, 10, d) features of style_rows' digits -> mean distance between digits of one row / mean distance
    between digits of different rows, each digit's class mean removed first. Below 1: a row shares a hand."""
    rows = len(features)
    residual = (features - features.mean(0, keepdim=True)).reshape(rows * NUM_CLASSES, -1)
    distances = torch.cdist(residual, residual)
    row = torch.arange(rows).repeat_interleave(NUM_CLASSES)
    same = row[:, None] == row[None, :]
    other_digit = ~torch.eye(len(row), dtype=torch.bool)
    return (distances[same & other_digit].mean() / distances[~same].mean()).item()


def shared_hand(generator, classifier, rows=100, seed=0):
    """How much the digits of one style row share a hand: hand_ratio in the classifier's 128-d features, and in
    stroke_style (ink and slant, each standardised), for `rows` rows of style_rows."""
    images = torch.from_numpy(generator.style_rows(rows, seed))
    with torch.inference_mode():
        features = classifier.features(images.reshape(-1, 28, 28)).reshape(rows, NUM_CLASSES, -1)
    style = stroke_style(images)
    style = (style - style.mean(0)) / style.std(0)
    return {"classifier_features": hand_ratio(features), "ink_and_slant": hand_ratio(style)}


def cut_out(number, span):
    """The digit at columns `span` of a written number, back in the middle of a 28x28 image."""
    start, stop = span
    image = np.zeros((28, 28), dtype=np.uint8)
    offset = (28 - (stop - start)) // 2
    image[:, offset:offset + stop - start] = number[:, start:stop]
    return image


def number_readback(generator, classifier, n_numbers=1000, length=8, seed=0):
    """Share of the digits of `n_numbers` written numbers (random digits, `length` each, one hand per number) that
    the classifier reads as the intended digit when cut out again at their known position."""
    rng = torch.Generator().manual_seed(seed)
    correct = total = 0
    for i in range(n_numbers):
        digits = torch.randint(0, NUM_CLASSES, (length,), generator=rng).tolist()
        numbers, spans = generator.write_number("".join(map(str, digits)), 1, seed + i, return_spans=True)
        cut = torch.from_numpy(np.stack([cut_out(numbers[0], span) for span in spans[0]]))
        correct += (classifier.predict(cut) == torch.tensor(digits)).sum().item()
        total += length
    return correct / total
