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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cgan.data import DEFAULT_DATA_DIR, load_mnist, validation_split  # noqa: E402
from cgan.evaluate import real_sample, shown_source  # noqa: E402
from cgan.hub import load_generator  # noqa: E402
from cgan.models import NUM_CLASSES  # noqa: E402
from cgan.two_sample import c2st, pixel_tv  # noqa: E402

PER_DIGIT = 500


def properties(images):
    """Per image (uint8 (N, 28, 28)): name -> (N,) values."""
    x = images.numpy().astype(np.float64)
    ink = x > 0
    area, total = ink.sum((1, 2)), x.sum((1, 2))
    height, width = ink.any(2).sum(1), ink.any(1).sum(1)
    gy, gx = np.gradient(x, axis=(1, 2))
    return {
        "larger side of the ink's box (real digits: 20)": np.maximum(height, width),
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


def enlarge(images, factor):
    """uint8 images scaled by `factor` about their centre, bilinear."""
    theta = torch.tensor([[1 / factor, 0.0, 0.0], [0.0, 1 / factor, 0.0]]).expand(len(images), 2, 3)
    grid = F.affine_grid(theta, (len(images), 1, 28, 28), align_corners=False)
    out = F.grid_sample(images.float()[:, None], grid, mode="bilinear", align_corners=False)[:, 0]
    return out.round().clamp(0, 255).to(torch.uint8)


def set_values(images, low, high, value):
    out = images.clone()
    out[(out >= low) & (out <= high)] = value
    return out


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

    result = {"model": shown_source(generator.source), "per_digit": PER_DIGIT, "model_c2st": model_c2st,
              "model_pixel_tv": pixel_tv(fake, real), "features": features, "calibration": calibration}
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
    (out / "tells.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
