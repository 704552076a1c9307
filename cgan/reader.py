"""The reader: which digit a person's drawing shows (cgan.hands reads every drawing with it before the search).

The evaluation classifier learnt MNIST's digits as MNIST's writers drew them, in pencil strokes that thin and
thicken, scanned and blurred. A drawing on a canvas is drawn with a round pen of one width, hard-edged, often far
thicker or thinner for the digit's size than a pencil's; the classifier misreads more of those (1.7% of 3,000
held-out digits redrawn as canvases, against 0.3% as drawn: docs/training-notes.md, E46). The reader is a network of
the classifier's make trained on the training digits (less the held-out ones, on which the hands' thresholds are
chosen) and on PEN_COPIES copies of each as a pen might draw it (pen_copy): binarised at a random level, its strokes
either redrawn along their centre lines with a round pen PEN wide or thickened by up to the pen's width, tilted up to
TILT degrees either way, and laid out by prepare_drawing as find_hand lays out a drawing. The search still moves in
the evaluation classifier's features: the reader only says which digit to search for, and how sure it is.

    python -m cgan.reader            # train it and save it to checkpoints/reader (about 15 minutes on a 2-core CPU)
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from skimage.morphology import skeletonize

from cgan.classifier import BUNDLED_READER, CARD_HEADER, accuracy, train_classifier
from cgan.data import DEFAULT_DATA_DIR, MnistUnavailableError, load_mnist, validation_split
from cgan.hands import Refusal, prepare_drawing

UPSCALE = 4  # a digit is redrawn at 4x MNIST's resolution, where a pen's edge is smooth
LEVEL = (0.25, 0.6)  # the ink level at which a digit is binarised, of full ink: thinner or fuller strokes
PEN = (0.6, 5.5)  # the pen's width in MNIST's pixels (MNIST's own strokes: about 2.8); a canvas's pen 3-8% of a
# canvas on which the digit fills 30-90% of the shorter side gives 0.7-5.3
TILT = 15  # degrees, either way
PEN_COPIES = 2
EPOCHS = 4  # over the digits and their copies: 1.4x the steps of the classifier's 8 epochs over 60,000 digits
SEED = 0


def pen_copy(digit, rng):
    """A uint8 MNIST digit (28, 28) redrawn as a pen on a canvas might draw it, laid out as find_hand lays out a
    drawing (the module's text): uint8 (28, 28), or None where binarising leaves no ink (or too little to lay out)."""
    big = np.asarray(Image.fromarray(np.asarray(digit, np.uint8)).resize((28 * UPSCALE,) * 2,
                                                                          Image.Resampling.BILINEAR)) / 255
    ink = big >= rng.uniform(*LEVEL)
    if not ink.any():
        return None
    width = rng.uniform(*PEN) * UPSCALE
    if rng.random() < 0.5:  # one pen along the strokes' centre lines
        ink = ndimage.distance_transform_edt(~skeletonize(ink)) <= width / 2
    else:  # the writer's own strokes, thickened on each side by up to half the pen
        ink = ndimage.distance_transform_edt(~ink) <= rng.uniform(0, width / 2)
    tilted = Image.fromarray(ink.astype(np.uint8) * 255).rotate(rng.uniform(-TILT, TILT), Image.Resampling.BILINEAR,
                                                                expand=True)
    try:
        return prepare_drawing((np.asarray(tilted) >= 128).astype(np.uint8) * 255)
    except Refusal:  # nothing left to lay out
        return None


def pen_copies(images, labels, copies=PEN_COPIES, seed=SEED):
    """`copies` pen copies (pen_copy) of each uint8 digit of `images` (N, 28, 28): (images, their labels)."""
    rng = np.random.default_rng(seed)
    drawn, kept = [], []
    for _ in range(copies):
        for image, label in zip(images.numpy(), labels.tolist(), strict=True):
            if (copy := pen_copy(image, rng)) is not None:
                drawn.append(copy)
                kept.append(label)
    if not drawn:
        return torch.empty((0, 28, 28), dtype=torch.uint8), torch.empty(0, dtype=torch.long)
    return torch.from_numpy(np.stack(drawn)), torch.tensor(kept)


def train_reader(images, labels, epochs=EPOCHS, seed=SEED, log=print):
    """The reader trained on MNIST training `images` and `labels` (uint8 (N, 28, 28), (N,)) and their pen copies."""
    log(f"reader: drawing {PEN_COPIES} pen copies of {len(labels):,} digits")
    copies, copy_labels = pen_copies(images, labels, seed=seed)
    return train_classifier(torch.cat([images, copies]), torch.cat([labels, copy_labels]), epochs=epochs, seed=seed,
                            log=log)


CARD = CARD_HEADER + """
# cgan-digits reader

Reads which digit a person's drawing shows, for "My hand" (cgan/hands.py). The evaluation classifier's network
(three conv blocks, a 128-d feature layer), trained on the MNIST training digits less the 5,000 held out for
choosing thresholds, and on {copies} copies of each redrawn as a round pen on a canvas draws (cgan/reader.py).

- Test accuracy: **{accuracy:.2%}** on the 10,000 MNIST test images as they are.
- Trained with `python -m cgan.reader --seed {seed}` ({epochs} epochs, about 15 minutes on a 2-core CPU).
"""


def main(argv=None):
    """python -m cgan.reader: train the reader and save it (Hub layout) to --out."""
    parser = argparse.ArgumentParser(prog="python -m cgan.reader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", default=str(BUNDLED_READER), help="a folder (default: checkpoints/reader)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--mnist-dir", default=None, help="folder with the four official MNIST .gz files")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        parser.error(f"--out must be a folder to save the reader in; {out} is a file")
    try:  # both splits before the training's minutes: a missing test set would waste them
        images, labels = load_mnist(True, args.data_dir, args.mnist_dir)
        test_images, test_labels = load_mnist(False, args.data_dir, args.mnist_dir)
    except MnistUnavailableError as error:
        sys.exit(f"error: {error}")
    kept = validation_split(labels)[0]
    model = train_reader(images[kept], labels[kept], seed=args.seed)
    test_accuracy = accuracy(model, test_images, test_labels)
    print(f"test accuracy {test_accuracy:.4%}")
    model.save_pretrained(out)
    (out / "README.md").write_text(CARD.format(copies=PEN_COPIES, accuracy=test_accuracy, seed=args.seed,
                                               epochs=EPOCHS))
    print(f"saved to {out}")


if __name__ == "__main__":
    main()
