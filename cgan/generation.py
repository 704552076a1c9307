"""The saved generator: a network plus `generate(digit, n, seed)`, storable in Hugging Face layout."""

import math
import numbers

import numpy as np
import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from cgan.data import to_uint8
from cgan.models import NUM_CLASSES, build_networks

MAX_SEED = 2**64 - 1  # the range torch.Generator.manual_seed accepts
BATCH = 1024  # large n is generated in chunks of this many, so memory stays bounded


def check_int(name, value, low, high):
    """`value` as an int in [low, high], or ValueError naming `name` and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer {low}-{high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer {low}-{high}, got {value}")
    return int(value)


def check_noise_scale(value):
    """`value` as a float when it is a finite number above 0, else ValueError naming the problem."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"noise_scale must be a number above 0, got {value!r}")
    return float(value)


class ConditionalGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="cgan-digits",
    tags=["pytorch", "gan", "conditional-gan", "mnist", "image-generation"],
    license="mit",
    pipeline_tag="unconditional-image-generation",
):
    """A trained CGAN generator. `arch` and `size` (saved in config.json) pick the network; weights in
    model.safetensors. A config.json without `size` (saved before sizes existed) means small.

    `noise_scale` (also in config.json; 1 when absent) is the standard deviation of the noise `generate` draws: below 1
    the samples keep closer to the typical digit (the truncation trick), above 1 they spread into rarer styles.
    """

    def __init__(self, arch="dcgan", size="small", noise_scale=1.0):
        super().__init__()
        self.noise_scale = check_noise_scale(noise_scale)
        self.arch = arch
        self.size = size
        self.net = build_networks(arch, size)[0]
        self.eval()

    def with_noise_scale(self, noise_scale):
        """A copy with the same weights that samples at `noise_scale`. A copy rather than setting the attribute: the
        Hub mixin saves __init__'s arguments as config.json, so only a model built with the scale saves it."""
        other = ConditionalGenerator(self.arch, self.size, noise_scale)
        other.net.load_state_dict(self.net.state_dict())
        other.source = getattr(self, "source", None)
        return other.to(next(self.parameters()).device).eval()

    @property
    def z_dim(self):
        return self.net.z_dim

    def forward(self, z, labels):
        return self.net(z, labels)

    @torch.inference_mode()
    def generate(self, digit, n=1, seed=None):
        """`n` images of `digit` as uint8 (n, 28, 28), 0 = background, 255 = ink.

        The noise comes from a torch.Generator seeded for this call and is drawn on the CPU, so the same seed gives
        the same images on any device, whatever else runs. seed=None draws a fresh one.
        """
        digit = check_int("digit", digit, 0, NUM_CLASSES - 1)
        n = check_int("n", n, 1, 2**31 - 1)
        if seed is None:
            seed = int(torch.randint(0, 2**63 - 1, ()).item())
        seed = check_int("seed", seed, 0, MAX_SEED)
        rng = torch.Generator().manual_seed(seed)
        device = next(self.parameters()).device
        out = np.empty((n, 28, 28), dtype=np.uint8)
        for start in range(0, n, BATCH):
            m = min(BATCH, n - start)
            z = (torch.randn(m, self.z_dim, generator=rng) * self.noise_scale).to(device)
            labels = torch.full((m,), digit, dtype=torch.long, device=device)
            out[start:start + m] = to_uint8(self.net(z, labels).float()).cpu().numpy()
        return out
