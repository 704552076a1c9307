"""What gives generated digits away, measured on the bundled model (or --model) against held-out real digits:

    python benchmarks/tells.py

  features     for each simple property of an image (its size, its ink level, how soft its stroke edges are, ...):
               how well that one number alone tells the samples from real digits, as the area under the ROC curve
               (0.5: not at all, 1: always), with both sides' means. 500 samples per digit against the 5,000
               digits of the validation split (cgan.data.validation_split)
  calibration  the C2ST (cgan.two_sample) of 500 real training digits per digit, changed one known way, against the
               validation digits: what the critic notices. unchanged; full ink (250 and above) set to 255, as a
               clamp draws it; the pixels at 255 (1-2 a digit) set to 253, as a G with ink 253 draws it; enlarged
               5% by bilinear resampling; enlarged and shrunk back (resampling alone)
  views        the model's C2ST with samples and validation digits both seen the same reduced way: where it falls
               to 0.5, what the view throws away is what gives the samples away. Shape only (pixels of 128 and up
               as ink, the rest as background); the ink's footprint (every pixel with any ink as ink); blurred
               (Gaussian, sigma 1 px: no detail finer than a pixel); and, with the samples untouched, only the
               samples whose box is exactly 20 px, as every real digit's is (drawn until there are 500 of a digit)

Writes tells.json and tells.md to --out.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from scipy.stats import mannwhitneyu
from torchvision.transforms.functional import gaussian_blur

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cgan.data import DEFAULT_DATA_DIR, load_mnist, validation_split  # noqa: E402
from cgan.evaluate import real_sample, shown_source  # noqa: E402
from cgan.hub import load_generator  # noqa: E402
from cgan.models import NUM_CLASSES  # noqa: E402
from cgan.two_sample import c2st, pixel_tv  # noqa: E402

PER_DIGIT = 500


def box_side(images):
    """The larger side, in pixels, of the box around each uint8 image's ink (MNIST scaled every digit to 20)."""
    ink = images > 0
    index = torch.arange(images.shape[-1])

    def extent(lines):  # first to last inked line; 0 for an empty image
        return (torch.where(lines, index, -1).max(1).values - torch.where(lines, index, len(index)).min(1).values
                + 1).clamp(min=0)
    return torch.maximum(extent(ink.any(2)), extent(ink.any(1)))


def properties(images):
    """Per image (uint8 (N, 28, 28)): name -> (N,) values."""
    x = images.numpy().astype(np.float64)
    ink = x > 0
    area, total = ink.sum((1, 2)), x.sum((1, 2))
    gy, gx = np.gradient(x, axis=(1, 2))
    return {
        "larger side of the ink's box (real digits: 20)": box_side(images).numpy(),
        "pixels at 255": (x == 255).sum((1, 2)),
        "pixels at 250-254": ((x >= 250) & (x < 255)).sum((1, 2)),
        "mean ink value": total / area,
        "share of inked pixels below 128 (soft edges)": (ink & (x < 128)).sum((1, 2)) / area,
        "mean gradient over inked pixels (sharp edges)": np.hypot(gy, gx).sum((1, 2)) / area,
        "inked pixels": area,
        "total ink": total,
        "separate pieces of ink": np.array([ndimage.label(i, structure=np.ones((3, 3)))[1] for i in ink]),
    }


def separability(fake, real):
    """Area under the ROC curve of one number telling `fake` from `real`, either way round (0.5-1)."""
    auc = mannwhitneyu(fake, real).statistic / (len(fake) * len(real))
    return max(auc, 1 - auc)


def as_uint8(pixels):
    """Float (N, 1, 28, 28) pixel values, as a resampling or a blur leaves them, back to uint8 (N, 28, 28) images."""
    return pixels[:, 0].round().clamp(0, 255).to(torch.uint8)


def enlarge(images, factor):
    """uint8 images scaled by `factor` about their centre, bilinear."""
    theta = torch.tensor([[1 / factor, 0.0, 0.0], [0.0, 1 / factor, 0.0]]).expand(len(images), 2, 3)
    grid = F.affine_grid(theta, (len(images), 1, 28, 28), align_corners=False)
    return as_uint8(F.grid_sample(images.float()[:, None], grid, mode="bilinear", align_corners=False))


def set_values(images, low, high, value):
    out = images.clone()
    out[(out >= low) & (out <= high)] = value
    return out


def blurred(images, sigma=1.0):
    return as_uint8(gaussian_blur(images.float()[:, None], kernel_size=7, sigma=sigma))


def thresholded(images, level):
    """Pixels of `level` and up as full ink (255), the rest as background."""
    return (images >= level).to(torch.uint8) * 255


def with_box(generator, side, per_digit, batch=2000, tries=20):
    """`per_digit` samples of each digit whose box's larger side is `side` px (real digits: 20), or None when a
    digit draws too few of them."""
    kept = []
    for digit in range(NUM_CLASSES):
        found = torch.empty(0, 28, 28, dtype=torch.uint8)
        for attempt in range(tries):
            images = torch.from_numpy(generator.generate(digit, batch, seed=1000 * (digit + 1) + attempt))
            found = torch.cat([found, images[box_side(images) == side]])
            if len(found) >= per_digit:
                break
        else:
            return None
        kept.append(found[:per_digit])
    return torch.cat(kept)


VIEWS = {
    "shape only (128 and up as ink)": lambda x: thresholded(x, 128),
    "the ink's footprint (any ink as ink)": lambda x: thresholded(x, 1),
    "blurred (sigma 1 px)": blurred,
}


CHANGES = {
    "unchanged": lambda x: x,
    "full ink set to 255": lambda x: set_values(x, 250, 255, 255),
    "the pixels at 255 set to 253": lambda x: set_values(x, 255, 255, 253),
    "enlarged 5%": lambda x: enlarge(x, 1.05),
    "enlarged 5% and shrunk back": lambda x: enlarge(enlarge(x, 1.05), 1 / 1.05),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a generator folder or Hub repo (default: the bundled one)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--mnist-dir", help="a folder with the four MNIST .gz files (or CGAN_MNIST_DIR)")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)

    images, labels = load_mnist(True, args.data_dir, args.mnist_dir)
    train_idx, held = validation_split(labels)
    real, real_labels = images[held], labels[held]
    generator = load_generator(args.model)
    fake = torch.from_numpy(np.concatenate([generator.generate(d, PER_DIGIT, seed=100 + d)
                                            for d in range(NUM_CLASSES)]))
    fake_labels = torch.arange(NUM_CLASSES).repeat_interleave(PER_DIGIT)

    fake_props, real_props = properties(fake), properties(real)
    features = sorted(({"property": name, "auc": separability(fake_props[name], real_props[name]),
                        "samples": float(fake_props[name].mean()), "real": float(real_props[name].mean())}
                       for name in fake_props), key=lambda row: -row["auc"])
    model_c2st, _ = c2st(fake, fake_labels, real, real_labels)

    changed_from, changed_labels = real_sample(images[train_idx], labels[train_idx], PER_DIGIT, seed=3)
    calibration = []
    for name, change in CHANGES.items():
        changed = change(changed_from)
        accuracy, _ = c2st(changed, changed_labels, real, real_labels)
        calibration.append({"change": name, "c2st": accuracy, "pixel_tv": pixel_tv(changed, real)})
        print(f"{name}: C2ST {accuracy:.3f}", flush=True)

    views = []
    for name, view in VIEWS.items():
        accuracy, _ = c2st(view(fake), fake_labels, view(real), real_labels)
        views.append({"view": name, "c2st": accuracy})
        print(f"{name}: C2ST {accuracy:.3f}", flush=True)
    boxed = with_box(generator, 20, PER_DIGIT)
    if boxed is not None:
        views.append({"view": "only samples with a 20 px box (unchanged)",
                      "c2st": c2st(boxed, fake_labels, real, real_labels)[0]})

    result = {"model": shown_source(generator.source), "per_digit": PER_DIGIT, "model_c2st": model_c2st,
              "model_pixel_tv": pixel_tv(fake, real), "features": features, "calibration": calibration,
              "views": views}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tells.json").write_text(json.dumps(result, indent=2))
    lines = [f"# What gives the samples away: {result['model']}", "",
             f"{PER_DIGIT} samples per digit against the validation split's 5,000 digits: C2ST {model_c2st:.3f}, "
             f"pixel TV {result['model_pixel_tv']:.3f}.", "",
             "| property | AUC alone | samples' mean | real mean |", "|---|---|---|---|"]
    lines += [f"| {r['property']} | {r['auc']:.3f} | {r['samples']:.3f} | {r['real']:.3f} |" for r in features]
    lines += ["", "Real training digits changed one way, against the validation digits:", "",
              "| change | C2ST | pixel TV |", "|---|---|---|"]
    lines += [f"| {r['change']} | {r['c2st']:.3f} | {r['pixel_tv']:.3f} |" for r in calibration]
    lines += ["", f"The model's C2ST ({model_c2st:.3f} as drawn) with samples and validation digits both seen one way:",
              "", "| view | C2ST |", "|---|---|"]
    lines += [f"| {r['view']} | {r['c2st']:.3f} |" for r in views]
    (out / "tells.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
