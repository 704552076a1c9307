"""python -m benchmarks.judge: train the independent judge of hands and save it beside its code (README.md there).

    python -m benchmarks.judge            # the judge kept in benchmarks/judge/ (seed 1, 6 epochs: minutes on a CPU)

Trained on the 60,000 MNIST training digits, checked on the 10,000 test digits (accuracy, and how well its ink and
slant read-outs follow cgan.hands.stroke_style there). Nothing in the hand search is chosen by looking at it.
"""

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.judge import JUDGE, Judge
from cgan.data import load_mnist
from cgan.hands import stroke_style

CARD = """# The independent judge of hands

An MNIST network that only `python -m benchmarks.hands` uses, to grade found hands in features the hand search never
sees (benchmarks/judge/__init__.py says how it differs from the evaluation classifier). Trained with
`python -m benchmarks.judge --seed {seed} --epochs {epochs}` on the 60,000 MNIST training digits ({minutes:.0f} minutes on
a 2-core CPU shared with other work).

- Test accuracy: **{accuracy:.2%}** on the 10,000 MNIST test digits.
- Its read-outs of ink and slant (a small network on its 80 features, trained on the training digits) follow
  cgan.hands.stroke_style's on the test digits with Pearson r = {ink_r:.3f} (ink) and {slant_r:.3f} (slant); within a
  digit's class, its ink over the class's mean and its slant less the class's mean (as benchmarks.hands compares
  them), r = {ink_within:.3f} and {slant_within:.3f}.
"""


def jitter(x, rng):
    """Random shifts (up to 2 pixels) and scalings (10%) of a float batch, no rotation or shear: the judge is to keep
    the slant it is asked about, where the evaluation classifier learns to ignore some of it."""
    n = len(x)
    scale = 1 + (torch.rand(n, generator=rng) - 0.5) * 0.2
    shift = (torch.rand(n, 2, generator=rng) - 0.5) * (4 / 14)
    zero = torch.zeros(n)
    theta = torch.stack([torch.stack([1 / scale, zero, shift[:, 0]], 1), torch.stack([zero, 1 / scale, shift[:, 1]], 1)], 1)
    return F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), align_corners=False)


def train(images, labels, epochs, seed, batch_size=128, lr=2e-3, log=print):
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    judge = Judge()
    steps = len(labels) // batch_size
    optimizer = torch.optim.AdamW(judge.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps)
    for epoch in range(epochs):
        judge.train()
        order, total = torch.randperm(len(labels), generator=rng), 0.0
        for step in range(steps):
            batch = order[step * batch_size:(step + 1) * batch_size]
            loss = F.cross_entropy(judge(jitter(Judge.prepare(images[batch]), rng)), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        log(f"judge epoch {epoch + 1}/{epochs}: loss {total / steps:.4f}")
    return judge.eval()


def fit_read_out(judge, images, seed, epochs=15, batch_size=256):
    """Train judge.read_out, the rest of the judge frozen, to give stroke_style's ink and slant of `images`."""
    torch.manual_seed(seed)
    features, _, _ = judge.look(images)
    style = stroke_style(images.numpy())
    judge.style_mean.copy_(style.mean(0))
    judge.style_std.copy_(style.std(0))
    target = (style - judge.style_mean) / judge.style_std
    optimizer = torch.optim.Adam(judge.read_out.parameters(), lr=1e-3)
    with torch.enable_grad():
        judge.read_out.requires_grad_(True)
        for _ in range(epochs):
            order = torch.randperm(len(features))
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                loss = (judge.read_out(features[batch]) - target[batch]).square().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    judge.requires_grad_(False)


def correlations(a, b):
    """Pearson r of each column of a (N, 2) with the same of b."""
    return [float(torch.corrcoef(torch.stack([a[:, i], b[:, i]]).double())[0, 1]) for i in range(a.shape[1])]


def within_class(style, labels):
    """Ink over its class's mean, slant less its class's mean, as benchmarks.hands compares them."""
    style = style.clone().double()
    for digit in labels.unique():
        mask = labels == digit
        style[mask, 0] /= style[mask, 0].mean()
        style[mask, 1] -= style[mask, 1].mean()
    return style


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.judge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1, help="not the evaluation classifier's (0)")
    parser.add_argument("--out", default=str(JUDGE))
    parser.add_argument("--mnist-dir", default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    images, labels = load_mnist(True, mnist_dir=args.mnist_dir)
    judge = train(images, labels, args.epochs, args.seed)
    fit_read_out(judge, images, args.seed)
    test_images, test_labels = load_mnist(False, mnist_dir=args.mnist_dir)
    _, read, style = judge.look(test_images)
    truth = stroke_style(test_images.numpy())
    r = correlations(style, truth)
    within = correlations(within_class(style, test_labels), within_class(truth, test_labels))
    accuracy = float((read == test_labels).float().mean())
    print(f"test accuracy {accuracy:.2%}; read-out r: ink {r[0]:.3f}, slant {r[1]:.3f}; within a class: "
          f"{within[0]:.3f}, {within[1]:.3f}")
    judge.save_pretrained(args.out)
    (Path(args.out) / "README.md").write_text(CARD.format(
        seed=args.seed, epochs=args.epochs, accuracy=accuracy, ink_r=r[0], slant_r=r[1], ink_within=within[0],
        slant_within=within[1], minutes=math.ceil((time.perf_counter() - start) / 60)))
    print(f"saved to {args.out}")


if __name__ == "__main__":
    main()
