"""The evaluation classifier: a small CNN trained on the MNIST training set only, never used in GAN training.

Its 128-d penultimate layer is the feature space of the Fréchet distance and of precision/recall.
"""

import contextlib
import io
import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from cgan.data import to_model_range
from cgan.models import NUM_CLASSES

FEATURE_DIM = 128
BUNDLED_CLASSIFIER = Path(__file__).resolve().parent.parent / "checkpoints" / "classifier"
BUNDLED_READER = BUNDLED_CLASSIFIER.parent / "reader"  # the same network, trained to read drawings: cgan/reader.py


def conv_block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True),
                         nn.MaxPool2d(2))


class MnistClassifier(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="cgan-digits",
    tags=["pytorch", "mnist", "image-classification"],
    license="mit",
    pipeline_tag="image-classification",
):
    """uint8 (N, 28, 28) or [-1, 1] float (N, 1, 28, 28) digits -> 10 logits; `features` gives the 128-d
    embedding."""

    def __init__(self, width=32):
        super().__init__()
        self.body = nn.Sequential(
            conv_block(1, width),  # width x 14 x 14
            conv_block(width, 2 * width),  # 2width x 7 x 7
            conv_block(2 * width, 4 * width),  # 4width x 3 x 3
            nn.Flatten(),
            nn.Linear(4 * width * 9, FEATURE_DIM, bias=False),
            nn.BatchNorm1d(FEATURE_DIM),
            nn.ReLU(True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, NUM_CLASSES))

    @staticmethod
    def prepare(images):
        """Accept the public uint8 (N, 28, 28) images or the networks' float (N, 1, 28, 28) in [-1, 1]."""
        if images.dtype == torch.uint8:
            return to_model_range(images)
        return images.float()

    def features(self, images):
        return self.body(self.prepare(images))

    def forward(self, images):
        return self.head(self.features(images))

    @torch.inference_mode()
    def predict(self, images, batch_size=2048):
        self.eval()
        return torch.cat([self(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])


def augment(x, rng):
    """Random small rotation, scale and shift of a float batch: one affine grid for the whole batch."""
    n = len(x)
    angle = (torch.rand(n, generator=rng) - 0.5) * math.radians(20)
    scale = 1 + (torch.rand(n, generator=rng) - 0.5) * 0.2
    shift = (torch.rand(n, 2, generator=rng) - 0.5) * (4 / 14)  # +-2 pixels in the [-1, 1] grid units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    # Pad with -1 (background) rather than zeros (mid-grey).
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


BATCH_SIZE = 128


def classifier_step(model, optimizer, images, labels, rng):
    """One optimiser step on uint8 (B, 28, 28) `images` of `labels`, augmented with `rng`; returns the loss."""
    x = augment(to_model_range(images), rng)
    loss = F.cross_entropy(model(x), labels, label_smoothing=0.05)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def new_classifier(width, lr):
    """A fresh classifier of `width` and its optimiser, channels-last: oneDNN's fast layout on a CPU, the same
    arithmetic in fewer reorders (cgan.models.to_fast_layout: the C2ST critic's step, this network, 1.33x)."""
    model = MnistClassifier(width).to(memory_format=torch.channels_last)
    return model, torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)


def train_classifier(images, labels, epochs=6, batch_size=BATCH_SIZE, lr=3e-3, seed=0, log=print, width=32,
                     progress=None):
    """Train on uint8 (N, 28, 28) images; returns the classifier in eval mode, in the plain layout (which
    safetensors saves). progress: a tqdm bar (or None), advanced by one each step."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    model, opt = new_classifier(width, lr)
    steps_per_epoch = len(labels) // batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(labels), generator=rng)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * batch_size:(step + 1) * batch_size]
            total += classifier_step(model, opt, images[idx], labels[idx], rng)
            sched.step()
            if progress is not None:
                progress.update()
        log(f"classifier epoch {epoch + 1}/{epochs}: loss {total / steps_per_epoch:.4f}  {time.perf_counter() - start:.0f}s")
    return model.to(memory_format=torch.contiguous_format).eval()


def step_seconds(width=32, batch_size=BATCH_SIZE, steps=3):
    """Median seconds of one training step of a fresh classifier of `width` here, as train_classifier takes it (on
    blank digits, after a step of warm-up; the global RNG left as it was): what an estimate of a training's time
    scales by."""
    with torch.random.fork_rng(devices=[]):
        model, opt = new_classifier(width, 1e-3)
        images, labels = torch.zeros(batch_size, 28, 28, dtype=torch.uint8), torch.zeros(batch_size, dtype=torch.long)
        rng = torch.Generator().manual_seed(0)
        times = []
        for _ in range(steps + 1):
            start = time.perf_counter()
            classifier_step(model, opt, images, labels, rng)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def load_classifier(source=None):
    """The evaluation classifier saved in `source` (a folder; default: the bundled checkpoints/classifier), in eval
    mode. huggingface_hub prints "Loading weights from local directory" on stdout, which is kept for our output (a
    `--json` prints JSON only)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return MnistClassifier.from_pretrained(str(source or BUNDLED_CLASSIFIER), strict=True).eval()


def accuracy(model, images, labels):
    return (model.predict(images) == labels).float().mean().item()


CARD_HEADER = """---
library_name: cgan-digits
license: mit
datasets:
- mnist
pipeline_tag: image-classification
tags:
- pytorch
- mnist
- image-classification
---
"""  # the front matter of this network's cards: the evaluation classifier's and the reader's (cgan/reader.py)

CARD = CARD_HEADER + """
# cgan-digits evaluation classifier

A small CNN (three conv blocks with BatchNorm, a 128-d feature layer, dropout) trained on the 60,000 MNIST
training images only, with small random rotations, scalings and shifts. It judges generated digits in
`python -m cgan.evaluate`: its predictions give the conditional accuracy, its 128-d features the Fréchet distance
and precision/recall. It never takes part in GAN training.

- Test accuracy: **{accuracy:.2%}** on the 10,000 MNIST test images.
- Trained with `python -m cgan.classifier --epochs {epochs} --seed {seed}` (about 7 minutes on a 2-core CPU).
"""


def main(argv=None):
    """python -m cgan.classifier: train the evaluation classifier and save it (Hub layout) to --out."""
    import argparse
    from pathlib import Path

    from cgan.data import DEFAULT_DATA_DIR, load_mnist

    parser = argparse.ArgumentParser(prog="python -m cgan.classifier", description=main.__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "checkpoints" / "classifier"))
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--mnist-dir", default=None, help="folder with the four official MNIST .gz files")
    args = parser.parse_args(argv)
    images, labels = load_mnist(True, args.data_dir, args.mnist_dir)
    test_images, test_labels = load_mnist(False, args.data_dir, args.mnist_dir)
    model = train_classifier(images, labels, epochs=args.epochs, seed=args.seed)
    test_accuracy = accuracy(model, test_images, test_labels)
    print(f"test accuracy {test_accuracy:.4%}")
    model.save_pretrained(args.out)
    (Path(args.out) / "README.md").write_text(CARD.format(accuracy=test_accuracy, epochs=args.epochs, seed=args.seed))
    print(f"saved to {args.out}")


if __name__ == "__main__":
    main()
