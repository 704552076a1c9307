"""Measured quality of a generator, judged by the project's own MNIST classifier against the real test set.

    python -m cgan.evaluate [--model SOURCE] [--n-per-digit 1000] [--json] [--save]

Numbers, each also given for 10,000 real training digits (the floor no generator can beat):
  accuracy        share of samples that the classifier reads as the requested digit (overall, and per digit)
  fd              Fréchet distance in the classifier's 128-d feature space against the 10,000 test images
  fd_per_digit    the same within each digit, averaged: catches a model that collapses inside a class
  precision, recall   improved precision and recall (Kynkäänniemi et al. 2019, k = 3), same feature space
  c2st            held-out accuracy of a fresh CNN trained to tell the samples from the test images (0.5: it
                  cannot; cgan.two_sample), about a minute on a 2-core CPU; --no-c2st skips it
  pixel_tv        total-variation distance between the pixel-value histograms of the samples and the test images
  cas             with --cas: the classification accuracy score, the test accuracy of a classifier trained on the
                  model's digits only, beside the same classifier trained on as many real training digits
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from tqdm.auto import tqdm

from cgan.classifier import BATCH_SIZE, FEATURE_DIM, accuracy, load_classifier, step_seconds, train_classifier
from cgan.data import DEFAULT_DATA_DIR, load_mnist, pick_per_digit
from cgan.dataset import balanced_labels, draw_in_chunks
from cgan.device import pick_device
from cgan.hub import EVALUATION_FILE, ROOT, load_generator, resolve_source, weights_sha256, write_model_card
from cgan.metrics import present
from cgan.models import NUM_CLASSES, to_fast_layout
from cgan.two_sample import c2st, pixel_tv

BATCH = 1000


class PrecomputedFeatures(nn.Module):
    """The torchmetrics "feature extractor" of the Fréchet distances: the identity, since they are fed the
    classifier's features (128-d), computed once per set of images for every metric."""

    def __init__(self, num_features=FEATURE_DIM):
        super().__init__()
        self.num_features = num_features

    def forward(self, features):
        return features


def fill(metric, features, real):
    for i in range(0, len(features), BATCH):
        metric.update(features[i:i + BATCH].to(metric.device), real=real)


def k_nearest_radii(features, k):
    """Distance from each feature vector to its k-th nearest neighbour in the same set (itself excluded)."""
    radii = torch.empty(len(features), dtype=features.dtype, device=features.device)
    for i in range(0, len(features), BATCH):
        d = torch.cdist(features[i:i + BATCH], features)
        radii[i:i + BATCH] = d.kthvalue(k + 1, dim=1).values  # k + 1: the smallest distance is to itself
    return radii


def covered(queries, support, radii):
    """For each query: does it fall inside the k-NN ball of at least one support point?"""
    inside = torch.empty(len(queries), dtype=torch.bool, device=queries.device)
    for i in range(0, len(queries), BATCH):
        d = torch.cdist(queries[i:i + BATCH], support)
        inside[i:i + BATCH] = (d <= radii[None, :]).any(dim=1)
    return inside


def precision_recall(real_features, fake_features, k=3):
    """Improved precision (fakes inside the real manifold) and recall (reals inside the fake manifold)."""
    real_features, fake_features = real_features.double(), fake_features.double()
    precision = covered(fake_features, real_features, k_nearest_radii(real_features, k)).float().mean().item()
    recall = covered(real_features, fake_features, k_nearest_radii(fake_features, k)).float().mean().item()
    return precision, recall


class Evaluator:
    """Holds the classifier and the test set's features, so that many generators (or epochs) are cheap to score.

    `device` is where the classifier, the distances and the Fréchet statistics are computed; images may be anywhere.
    """

    def __init__(self, classifier, test_images, test_labels, device="cpu"):
        self.device = torch.device(device)
        self.classifier = to_fast_layout(classifier.eval(), self.device)
        self.test_images = test_images
        self.test_features = self.features(test_images)
        self.test_labels = test_labels
        # One FD metric overall and one per digit, each keeping the test set's statistics across resets.
        dim = self.test_features.shape[1]
        self.fd = FrechetInceptionDistance(feature=PrecomputedFeatures(dim), reset_real_features=False).to(self.device)
        fill(self.fd, self.test_features, real=True)
        self.fd_digit = []
        for digit in range(NUM_CLASSES):
            metric = FrechetInceptionDistance(feature=PrecomputedFeatures(dim), reset_real_features=False).to(self.device)
            fill(metric, self.test_features[test_labels.to(self.device) == digit], real=True)
            self.fd_digit.append(metric)

    @torch.inference_mode()
    def features(self, images):
        """The classifier's 128-d features of uint8 (N, 28, 28) images, float32 on the evaluator's device."""
        return torch.cat([self.classifier.features(images[i:i + BATCH].to(self.device))
                          for i in range(0, len(images), BATCH)]).float()

    def score(self, images, labels, two_sample=False, log=None):
        """All metrics for uint8 (N, 28, 28) images meant to show `labels` (N,); with two_sample, also the C2ST and
        the pixel histogram's distance (cgan.two_sample) against the test images, the C2ST's epochs told to `log`."""
        # One pass of the classifier serves both its predictions and precision/recall's features.
        features = self.features(images)
        with torch.inference_mode():
            predicted = self.classifier.head(features).argmax(1).cpu()
        correct = (predicted == labels).float()
        per_digit_accuracy = [correct[labels == d].mean().item() for d in range(NUM_CLASSES)]
        self.fd.reset()
        fill(self.fd, features, real=False)
        fd_each = []
        for digit, metric in enumerate(self.fd_digit):
            metric.reset()
            fill(metric, features[labels.to(self.device) == digit], real=False)
            fd_each.append(metric.compute().item())
        precision, recall = precision_recall(self.test_features, features)
        if two_sample:
            c2st_accuracy, _ = c2st(images, labels, self.test_images, self.test_labels, device=self.device, log=log)
            extra = {"c2st": c2st_accuracy, "pixel_tv": pixel_tv(images, self.test_images)}
        else:
            extra = {}
        return {
            "accuracy": correct.mean().item(),
            "accuracy_min": min(per_digit_accuracy),
            "accuracy_per_digit": per_digit_accuracy,
            "fd": self.fd.compute().item(),
            "fd_per_digit": sum(fd_each) / NUM_CLASSES,
            "fd_per_digit_each": fd_each,
            "precision": precision,
            "recall": recall,
            **extra,
        }

    def score_generator(self, generator, n_per_digit=1000, seed=0, two_sample=False, log=None):
        return self.score(*samples_per_digit(generator, n_per_digit, seed), two_sample, log)


def samples_per_digit(generator, n_per_digit, seed=0):
    """(uint8 images, labels): `n_per_digit` samples of each digit d, drawn with sample seed `seed` + d."""
    images = torch.cat([torch.from_numpy(generator.generate(d, n_per_digit, seed=seed + d)) for d in range(NUM_CLASSES)])
    return images, torch.arange(NUM_CLASSES).repeat_interleave(n_per_digit)


def real_sample(images, labels, n_per_digit, seed=0):
    """`n_per_digit` random training images of each digit: the real-data floor, drawn like a generator's samples."""
    picks = torch.cat(pick_per_digit(labels, n_per_digit, torch.Generator().manual_seed(seed)))
    return images[picks], labels[picks]


NOISE_SCALE_PER_DIGIT = 500  # samples per digit at each scale the noise-scale choice measures: as many as the
# validation split holds


def choose_noise_scale(model, images, labels, scales, seed=0, device="cpu"):
    """(the chosen scale, {scale: its metrics}) for a ConditionalGenerator and the validation digits `images`,
    `labels` (digits held out of the training set; the test set stays for reporting).

    The noise scale saved with a model trades fidelity for variety: a narrower noise draws more typical digits, a wider
    one rarer styles. The one chosen is the one whose digits of each class come closest to the validation digits of
    that class: the lowest mean per-digit Fréchet distance, which grows both when digits stray from real ones and
    when they vary too little. (The overall distance was tried too: on 5,000 digits its differences between
    neighbouring scales were within its noise, and it picked a scale the test set scored worse on both distances;
    docs/training-notes.md.)"""
    evaluator = Evaluator(load_classifier(), images, labels, device=device)
    measured = {scale: evaluator.score_generator(model.with_noise_scale(scale), NOISE_SCALE_PER_DIGIT, seed=seed)
                for scale in scales}
    best = min(measured, key=lambda scale: measured[scale]["fd_per_digit"])
    return best, measured


CAS_DIGITS = 60_000  # the classification accuracy score's training set: as many digits as MNIST's
CAS_EPOCHS = 6  # of the score's classifier (cgan.classifier.train_classifier), seeded
CAS_WIDTH = 16  # of the score's classifier: half the evaluation classifier's, so 6 epochs cost 39% of the FLOPs that
# 4 epochs at its width did. Chosen on the validation split (trained on the other 55,000 digits, seeds 0-2), where it
# read 99.29% against 99.28% at width 32 in 4 epochs (width 16 in 4 epochs: 99.21%); its ceiling on the test set
# (the same seeds) 99.49% against 99.50% (docs/training-notes.md, 2026-12-05)


def cas_training_sets(generator, real_images, real_labels, seed=0, n=CAS_DIGITS):
    """The two training sets of the classification accuracy score, each (uint8 images, labels): `n` of the
    generator's digits (balanced, at its noise scale), and `n` real training digits."""
    rng = torch.Generator().manual_seed(seed)
    labels = balanced_labels(n, range(NUM_CLASSES), rng)
    fake = torch.from_numpy(np.concatenate([images for images, _ in draw_in_chunks(
        generator, labels, generator.noise_scale, rng)]))
    real = torch.randperm(len(real_labels), generator=rng)[:n]
    return (fake, labels), (real_images[real], real_labels[real])


def cas_steps(n=CAS_DIGITS, epochs=CAS_EPOCHS):
    """The training steps of the classification accuracy score: two classifiers, `epochs` epochs of `n` digits each."""
    return 2 * epochs * (n // BATCH_SIZE)


def cas_estimate(n=CAS_DIGITS, epochs=CAS_EPOCHS):
    """What the classification accuracy score will take here, in words: its steps, times a step timed here."""
    steps, seconds = cas_steps(n, epochs), step_seconds(CAS_WIDTH)
    total = steps * seconds
    return (f"the CAS trains 2 classifiers, {epochs} epoch{'s' if epochs != 1 else ''} of {n:,} digits each: "
            f"{steps:,} steps at "
            f"{seconds * 1000:.0f} ms a step here, about "
            + (f"{total / 60:.0f} minutes" if total >= 90 else f"{total:.0f} seconds"))


def classification_accuracy_score(generator, real_images, real_labels, test_images, test_labels, seed=0,
                                  n=CAS_DIGITS, epochs=CAS_EPOCHS, progress=False):
    """(CAS, its ceiling): the test accuracy of a classifier trained on `n` of the generator's digits only (Ravuri
    and Vinyals 2019), and of the same classifier trained the same way on `n` real training digits. What a synthetic
    MNIST is worth as training data, against what MNIST itself is worth. progress: a bar of the training steps on
    stderr."""
    with tqdm(total=cas_steps(n, epochs), desc="CAS", unit="step", disable=not progress) as bar:
        return tuple(accuracy(train_classifier(images, targets, epochs=epochs, seed=seed, width=CAS_WIDTH,
                                               log=lambda *_: None, progress=bar), test_images, test_labels)
                     for images, targets in cas_training_sets(generator, real_images, real_labels, seed, n))


def evaluate(model=None, n_per_digit=1000, seed=0, classifier=None, data_dir=DEFAULT_DATA_DIR, mnist_dir=None,
             device="cpu", noise_scale=None, two_sample=True, cas=False, progress=False):
    """Score a generator and the real-data floor; returns the JSON-ready dict that `--json` prints.

    noise_scale: sample at this noise scale instead of the model's own (config.json's), to see what another would do.
    two_sample: also the C2ST and the pixel histogram's distance, for the model and for the real-data floor.
    cas: also the classification accuracy score and its ceiling (classification_accuracy_score; a few minutes).
    progress: on stderr, what the CAS will take before anything starts, the C2ST's epochs and a bar of the CAS's
    training steps.
    The numbers do not depend on `device` beyond float rounding: the noise is drawn on the CPU either way.
    """
    start = time.perf_counter()
    device = pick_device(str(device))
    if device.type == "mps":
        device = torch.device("cpu")  # MPS has no float64, which precision and recall are computed in
    generator = load_generator(model, device=device)
    if noise_scale is not None:
        generator = generator.with_noise_scale(noise_scale)
    if cas and progress:
        tell(cas_estimate(CAS_DIGITS, CAS_EPOCHS) + (", after the other figures" if two_sample else ""))
    model_log, real_log = (told("the model's digits"), told("real digits")) if progress else (None, None)
    evaluator = Evaluator(load_classifier(classifier), *load_mnist(False, data_dir, mnist_dir), device=device)
    train_images, train_labels = load_mnist(True, data_dir, mnist_dir)
    model_scores = evaluator.score_generator(generator, n_per_digit, seed, two_sample, model_log)
    real_scores = evaluator.score(*real_sample(train_images, train_labels, min(n_per_digit, 5421), seed), two_sample,
                                  real_log)
    if cas:
        model_scores["cas"], real_scores["cas"] = classification_accuracy_score(
            generator, train_images, train_labels, evaluator.test_images, evaluator.test_labels, seed, CAS_DIGITS,
            CAS_EPOCHS, progress)  # the settings the record below names
    return {
        "model_source": shown_source(generator.source),
        "weights_sha256": weights_sha256(generator.source),
        "arch": generator.arch,
        "size": generator.size,
        "noise_scale": generator.noise_scale,
        "n_per_digit": n_per_digit,
        "seed": seed,
        "model": model_scores,
        "real": real_scores,
        **({"cas_training": {"digits": CAS_DIGITS, "epochs": CAS_EPOCHS, "width": CAS_WIDTH, "seed": seed}}
           if cas else {}),
        "seconds": time.perf_counter() - start,
    }


def tell(line):
    """A line of progress, on stderr: stdout keeps the result (--json prints JSON only)."""
    print(line, file=sys.stderr, flush=True)


def told(what):
    """A log that tells each of its lines, after `what`."""
    return lambda line: tell(f"{what}: {line}")


def shown_source(source):
    """A model's source as a record shows it: a folder inside this repository relative to it, anything else as given."""
    try:
        return str(Path(source).resolve().relative_to(ROOT))
    except ValueError:
        return str(source)


def report(result):
    """A human-readable table of an `evaluate` result."""
    m, r = result["model"], result["real"]
    scale = result["noise_scale"]
    lines = [f"model {result['model_source']} ({result['arch']}, {result['size']}"
             + (f", noise scale {scale:g}" if scale != 1 else "")
             + f"), {result['n_per_digit']} samples per digit, seed {result['seed']}",
             f"{'metric':<16}{'model':>10}{'real data':>12}"]
    lines += [f"{metric.label:<16}{metric.show(m[metric.key]):>10}{metric.show(r[metric.key]):>12}"
              for metric in present(m, r)]
    lines.append("per digit accuracy: " + " ".join(f"{d}:{a:.1%}" for d, a in enumerate(m["accuracy_per_digit"])))
    lines.append("per digit FD:       " + " ".join(f"{d}:{v:.1f}" for d, v in enumerate(m["fd_per_digit_each"])))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cgan.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="local folder or Hub repo id (default: $CGAN_MODEL, "
                                                      "else the bundled checkpoints/generator)")
    parser.add_argument("--n-per-digit", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classifier", default=None, help="classifier folder (default: checkpoints/classifier)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--save", action="store_true", help=f"write {EVALUATION_FILE} into the (local) model "
                                                           "folder and refresh its model card")
    parser.add_argument("--no-c2st", action="store_true", help="skip the two-sample test (about a minute per side) "
                                                              "and the pixel histogram")
    parser.add_argument("--cas", action="store_true", help=f"also the classification accuracy score: a classifier "
                        f"trained on {CAS_DIGITS:,} of the model's digits, tested on the real test set, beside the "
                        f"same trained on as many real digits (a few minutes: it says how long before it starts)")
    parser.add_argument("--noise-scale", type=float, default=None,
                        help="sample at this noise scale instead of the model's own (its config.json's noise_scale)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--mnist-dir", default=None, help="folder with the four official MNIST .gz files")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu",
                        help="where to run the generator and the classifier (default: cpu)")
    args = parser.parse_args(argv)
    if args.save and args.noise_scale is not None:
        parser.error("--save records the model as it is saved; to change its noise scale, set noise_scale in its "
                     "config.json (or train with --noise-scale), then evaluate with --save")
    if args.n_per_digit < 10:
        parser.error(f"--n-per-digit must be at least 10, got {args.n_per_digit}")
    try:
        result = evaluate(args.model, args.n_per_digit, args.seed, args.classifier, args.data_dir, args.mnist_dir,
                          args.device, args.noise_scale, two_sample=not args.no_c2st, cas=args.cas, progress=True)
    except (OSError, ValueError, RuntimeError) as error:
        sys.exit(f"error: {error}")
    if args.save:  # before printing: a closed pipe (`| head`) must not lose the saved numbers
        folder = Path(resolve_source(args.model))
        if not folder.is_dir():
            sys.exit(f"error: --save needs a local model folder, got {folder}")
        (folder / EVALUATION_FILE).write_text(json.dumps(result, indent=2))
        write_model_card(folder)
    print(json.dumps(result) if args.json else report(result))


if __name__ == "__main__":
    main()
