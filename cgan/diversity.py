"""A cheap collapse alarm for training: how much the fakes of each digit vary, relative to real digits."""

import torch

from cgan.data import pick_per_digit, to_model_range
from cgan.models import NUM_CLASSES


def mean_pairwise_distance(images):
    """Mean L2 distance between all pairs of a batch of images, in pixel space."""
    flat = images.flatten(1).float()
    d = torch.cdist(flat, flat)
    n = len(flat)
    return d.sum() / (n * (n - 1))


class DiversityProbe:
    """Per digit: mean pairwise distance of a fixed batch of fakes / the same for real digits of that class.

    About 1 for a healthy generator; a class drawn one way (collapse) falls towards 0.
    """

    threshold = 0.5  # below this ratio for any digit, the generator is called collapsed

    def __init__(self, images, labels, seed=0, per_digit=64, ink=255):
        self.per_digit = per_digit
        self.real_spread = [mean_pairwise_distance(to_model_range(images[pick.to(images.device)], ink)).item()
                            for pick in pick_per_digit(labels, per_digit, torch.Generator().manual_seed(seed))]
        self.noise_seed = seed + 1

    @torch.no_grad()
    def measure(self, G, device):
        gen = torch.Generator().manual_seed(self.noise_seed)
        z = torch.randn(NUM_CLASSES * self.per_digit, G.z_dim, generator=gen).to(device)
        labels = torch.arange(NUM_CLASSES).repeat_interleave(self.per_digit).to(device)
        fakes = G(z, labels).float().view(NUM_CLASSES, self.per_digit, -1)
        return [mean_pairwise_distance(fakes[d]).item() / self.real_spread[d] for d in range(NUM_CLASSES)]

    def collapsed(self, ratios):
        return min(ratios) < self.threshold

    @staticmethod
    def best_so_far(history):
        """The highest worst-digit spread of the epochs in `history` (0 before the first)."""
        return max((row["diversity_min"] for row in history), default=0.0)

    @staticmethod
    def falling(history, ratios, drop=0.25):
        """Has the worst digit's spread fallen by more than `drop` from its best epoch so far?"""
        return min(ratios) < (1 - drop) * DiversityProbe.best_so_far(history)
