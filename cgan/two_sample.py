"""How far generated digits are from real ones to a fresh eye, not to a digit reader.

Accuracy, the Fréchet distances, precision and recall look through the evaluation classifier, which was trained to
read digits: they see what a digit *is*. These two look at how it is *drawn*:

  c2st      a classifier two-sample test (Lopez-Paz & Oquab, ICLR 2017): the held-out accuracy of a fresh CNN trained
            to tell the samples from real digits. 0.5: it cannot tell them apart; 1: it always can.
  pixel_tv  the total-variation distance between the 256-bin histograms of pixel values: faint grey where real digits
            have pure background, or ink that saturates at another level, shows here first.
"""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cgan.classifier import FEATURE_DIM, MnistClassifier
from cgan.data import to_model_range
from cgan.models import NUM_CLASSES, reestimate_batchnorm, to_fast_layout

CRITIC_SEED = 0  # fixed, so that the same images always give the same figure
CRITIC_LR = 3e-3


def pixel_tv(images, reference):
    """Total-variation distance (0-1) between the pixel-value histograms of two sets of uint8 images."""
    def histogram(x):
        x = torch.as_tensor(np.asarray(x)).flatten()
        return torch.bincount(x.long(), minlength=256).double() / len(x)
    return 0.5 * (histogram(images) - histogram(reference)).abs().sum().item()


class Critic(nn.Module):
    """A fresh copy of the evaluation classifier's network (`MnistClassifier`: three conv blocks with BatchNorm and a
    128-d layer) with one logit instead of ten: generated (> 0) or real."""

    def __init__(self):
        super().__init__()
        self.body = MnistClassifier().body
        self.head = nn.Linear(FEATURE_DIM, 1)

    def forward(self, images):
        return self.head(self.body(images)).squeeze(1)


def matched_split(labels_a, labels_b, rng):
    """Indices into two labelled sets: per digit the same number from each (the smaller count), each digit's share
    split in half. Returns ((train_a, train_b), (held_a, held_b)). With as many of each digit on both sides, the
    critic cannot tell the sets apart by how often a digit occurs."""
    train_a, train_b, held_a, held_b = [], [], [], []
    for digit in range(NUM_CLASSES):
        a = (labels_a == digit).nonzero().squeeze(1)
        b = (labels_b == digit).nonzero().squeeze(1)
        m = min(len(a), len(b))
        a = a[torch.randperm(len(a), generator=rng)[:m]]
        b = b[torch.randperm(len(b), generator=rng)[:m]]
        half = m // 2
        train_a.append(a[:half]), train_b.append(b[:half]), held_a.append(a[half:]), held_b.append(b[half:])
    return (torch.cat(train_a), torch.cat(train_b)), (torch.cat(held_a), torch.cat(held_b))


def critic_step(critic, optimizer, x, y):
    """One optimiser step of the critic on a batch of images `x` in the networks' range, `y` True where generated."""
    loss = F.binary_cross_entropy_with_logits(critic(x), y.float())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@torch.no_grad()
def critic_accuracy(critic, x, y, batch_size=1000):
    critic.eval()
    correct = sum(((critic(x[i:i + batch_size]) > 0) == y[i:i + batch_size]).sum().item()
                  for i in range(0, len(y), batch_size))
    return correct / len(y)


def c2st(samples, sample_labels, real, real_labels, seed=CRITIC_SEED, device="cpu", batch_size=128, max_epochs=30,
         min_epochs=10, patience=5, log=None, lr=CRITIC_LR):
    """Held-out accuracy of a critic trained to tell uint8 (N, 28, 28) `samples` from `real` images.

    Label matched (see matched_split); half of each digit trains, half is held out. A fifth of the training half
    validates: the critic trains at least `min_epochs` epochs, then until its validation accuracy has not risen for
    `patience` epochs, and the epoch that scored best there is the one measured on the held-out half. The floor is
    there because a faint tell takes the critic a few epochs to find: stopped at chance before it started rising, it
    reported 0.49 for a model it tells apart at 0.60 once trained on (docs/training-notes.md). Returns (accuracy,
    epochs trained).
    """
    device = torch.device(device)
    samples, real = torch.as_tensor(np.asarray(samples)), torch.as_tensor(np.asarray(real))
    sample_labels, real_labels = torch.as_tensor(sample_labels), torch.as_tensor(real_labels)
    rng = torch.Generator().manual_seed(seed)
    (train_s, train_r), (held_s, held_r) = matched_split(sample_labels, real_labels, rng)

    def stack(s_idx, r_idx):  # images in the networks' range, and the target: 1 = generated
        x = torch.cat([to_model_range(samples[s_idx]), to_model_range(real[r_idx])])
        y = torch.cat([torch.ones(len(s_idx), dtype=torch.bool), torch.zeros(len(r_idx), dtype=torch.bool)])
        return x.to(device), y.to(device)

    x, y = stack(train_s, train_r)
    order = torch.randperm(len(y), generator=rng).to(device)
    n_val = len(y) // 5
    x_val, y_val, x_fit, y_fit = x[order[:n_val]], y[order[:n_val]], x[order[n_val:]], y[order[n_val:]]
    x_held, y_held = stack(held_s, held_r)

    with torch.random.fork_rng(devices=[]):  # the critic's initial weights from the seed, the global RNG untouched
        torch.manual_seed(seed)
        critic = to_fast_layout(Critic(), device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    best, best_state, since_best, epoch = -1.0, None, 0, 0
    while epoch < max_epochs and (epoch < min_epochs or since_best < patience):
        critic.train()
        perm = torch.randperm(len(y_fit), generator=rng).to(device)
        for i in range(0, len(perm) - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            critic_step(critic, optimizer, x_fit[idx], y_fit[idx])
        epoch += 1
        # The running averages lag the critic's fast-changing weights, and its batches mix two populations: judged
        # with lagging statistics, its validation accuracy jumped by tens of points from one epoch to the next.
        reestimate_batchnorm(critic, ((x_fit[i:i + batch_size],) for i in range(0, len(x_fit), batch_size)))
        accuracy = critic_accuracy(critic, x_val, y_val)
        if log:
            log(f"c2st epoch {epoch}: validation accuracy {accuracy:.4f}")
        if accuracy > best:
            best, best_state, since_best = accuracy, copy.deepcopy(critic.state_dict()), 0
        else:
            since_best += 1
    critic.load_state_dict(best_state)
    return critic_accuracy(critic, x_held, y_held), epoch
