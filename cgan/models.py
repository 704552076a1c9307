"""The networks: the course report's CGAN (`seed`) and the default conditional DCGAN (`dcgan`).

The dcgan comes in two sizes: `small` (32 channels, a 2-conv D) sized for a CPU, and `large` (64 channels, a
4-conv D), which measured better on every metric and is the one trained on a GPU. The deeper D can also train the
small G (`deep_d`): it did most of the large size's gain, and the large size's whole D (`d_size`) trains it too
(docs/training-notes.md).

Images inside the networks are float (N, 1, 28, 28) in [-1, 1]; labels are int64 (N,) in 0-9.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from cgan.checks import check_int

NUM_CLASSES = 10
ARCHS = ("dcgan", "seed")
DEFAULT_ARCH = "dcgan"
# size: (channels of G and D, whether D has a 3x3 conv after each downsampling unless deep_d says otherwise)
DCGAN_SIZES = {"small": (32, False), "large": (64, True)}
SIZES = tuple(DCGAN_SIZES)


def class_weights(labels, dtype):
    """The label as (N, 10) weights over the digits: one-hot for int64 labels (N,), as given for float weights
    (N, 10), which may mix two digits (a morph from one to another passes through their blends)."""
    if labels.is_floating_point():
        return labels.to(dtype)
    return F.one_hot(labels, NUM_CLASSES).to(dtype)


def to_fast_layout(network, device):
    """`network` on `device`, its conv weights channels-last on a CPU, where oneDNN's convolutions and max-pooling
    work in that layout and reorder NCHW tensors to it and back at every layer. For the evaluation's networks: on the
    2-core CPU it made the classifier's features 1.65x faster and the C2ST critic's training step 1.33x; a training
    step of the GAN in fp32 only about 1.03x and generation 1.07x, not worth changing their float rounding for
    (docs/training-notes.md). Under bf16 the trainer puts D and its classifier in it. On a
    GPU it is untested, so there the layout stays as it is."""
    device = torch.device(device)
    network = network.to(device)
    if device.type == "cpu":
        network = network.to(memory_format=torch.channels_last)
    return network


@torch.no_grad()
def reestimate_batchnorm(network, batches):
    """Measure `network`'s BatchNorm running statistics again with its current weights, as a plain average over
    `batches` (an iterable of tuples of its inputs); its momenta and its training mode are left as they were. Running
    averages lag weights that change fast, or were copied with other weights (an EMA's): precise BN (Wu & Johnson
    2021), BigGAN's standing statistics."""
    norms = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches below
    was_training = network.training
    network.train()
    for inputs in batches:
        network(*inputs)
    network.train(was_training)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


# --- seed: the course report's network, as written -------------------------------------------------------------


class SeedGenerator(nn.Module):
    """Noise + one-hot label -> 56x56 map -> one conv -> a stride-2 conv down to 28x28."""

    def __init__(self, z_dim=100):
        super().__init__()
        self.z_dim = z_dim
        self.fc = nn.Sequential(nn.Linear(z_dim + NUM_CLASSES, 56 * 56), nn.ReLU(True))
        self.conv = nn.Sequential(
            nn.Conv2d(1, 25, 3, padding=1),  # 25 x 56 x 56
            nn.BatchNorm2d(25),
            nn.ReLU(True),
            nn.Conv2d(25, 1, 2, stride=2),  # 1 x 28 x 28
            nn.Tanh(),
        )

    def forward(self, z, labels):
        one_hot = class_weights(labels, z.dtype)
        x = self.fc(torch.cat([z, one_hot], dim=1)).view(-1, 1, 56, 56)
        return self.conv(x)


class SeedDiscriminator(nn.Module):
    """Image -> 10 sigmoid scores, one per digit; trained against the one-hot label (real) or zeros (fake)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2),  # 32 x 28 x 28
            nn.LeakyReLU(0.2, True),
            nn.MaxPool2d(2),  # 32 x 14 x 14
            nn.Conv2d(32, 64, 5, padding=2),  # 64 x 14 x 14
            nn.LeakyReLU(0.2, True),
            nn.MaxPool2d(2),  # 64 x 7 x 7
            nn.Flatten(),
            nn.Linear(3136, 1024),
            nn.LeakyReLU(0.2, True),
            nn.Linear(1024, NUM_CLASSES),
            nn.Sigmoid(),
        )

    def forward(self, images, labels=None):
        # The report's D never sees the label: the label is the target of its 10 outputs.
        return self.net(images)


# --- dcgan: the default ----------------------------------------------------------------------------------------


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are learned per digit (de Vries et al. 2017, as in SNGAN's and BigGAN's
    generators): the label steers every layer, not just the input."""

    def __init__(self, channels):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Parameter(torch.ones(NUM_CLASSES, channels))
        self.shift = nn.Parameter(torch.zeros(NUM_CLASSES, channels))

    def forward(self, x, one_hot):
        # one_hot @ table rather than an embedding lookup: the backward is a small matmul instead of a scatter.
        scale = (one_hot @ self.scale)[:, :, None, None]
        shift = (one_hot @ self.shift)[:, :, None, None]
        return torch.addcmul(shift, self.norm(x), scale)


OUTPUTS = ("clamp", "coverage")  # the dcgan generator's; the seed architecture's is the report's tanh
SEED_OUTPUT = "tanh"
SUPERSAMPLE = 4  # "coverage" draws at 4x the resolution (112x112) and averages each 4x4 block into a pixel


class DCGANGenerator(nn.Module):
    """Noise + learned label embedding -> 7x7 -> 14x14 -> 28x28, with class-conditional BatchNorm.

    `output` is the last activation. "clamp" (hardtanh) reaches the ends of the range, -1 (background) and 1 (ink),
    exactly, as 81% of real MNIST pixels are exactly 0: tanh only approaches them, and the models trained with it
    left a faint grey haze where real digits have none, the first thing a critic told them apart by. "coverage" (the
    recipe's) clamps at 4x the resolution and gives each pixel the mean of its 4x4 block: an edge pixel's grey is how
    much of it the stroke covers, which is how MNIST's greys were made (binary scans anti-aliased as they were
    shrunk to 20x20). Drawn with the clamp at 28x28, the stroke edges had a grey texture of their own that a critic
    saw (docs/training-notes.md).
    """

    def __init__(self, output, z_dim=64, channels=32, embed_dim=32, fine=0):
        super().__init__()
        self.z_dim = z_dim
        self.channels = channels
        self.output = output
        self.fine = fine
        self.embed = nn.Embedding(NUM_CLASSES, embed_dim)
        self.fc = nn.Linear(z_dim + embed_dim, 2 * channels * 7 * 7, bias=False)
        self.norm0 = ConditionalBatchNorm2d(2 * channels)
        self.up = nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1, bias=False)  # channels x 14 x 14
        self.norm1 = ConditionalBatchNorm2d(channels)
        # A 3x3 conv to the four pixels of each 2x2 output block (coverage: to their 8x8 sub-pixels), then
        # pixel_shuffle: it can express everything a ConvTranspose2d(4, stride 2) can, and on the CPU it is faster
        # (for 64 images: 1.4 vs 3.9 ms forward, 2.3 vs 5.6 ms backward; docs/training-notes.md).
        if fine:
            # A stage at 28x28 before the pixels: the 14x14 features to `fine` channels at each of the 28x28 pixels
            # (a 3x3 conv and pixel_shuffle, as above), with the label's BatchNorm and a ReLU, so that the ink
            # around a stroke is drawn non-linearly at full resolution, where the C2ST's critic sees it, not as a
            # linear function of 14x14 features (docs/training-notes.md).
            self.to_fine = nn.Conv2d(channels, 4 * fine, 3, padding=1, bias=False)  # fine x 28 x 28
            self.norm2 = ConditionalBatchNorm2d(fine)
        self.upscale = (SUPERSAMPLE if output == "coverage" else 1) * (1 if fine else 2)
        self.to_pixels = nn.Conv2d(fine or channels, self.upscale**2, 3, padding=1)  # 1 x 28 x 28 (coverage: 112)

    def forward(self, z, labels):
        """`labels`: int64 (N,) digits, or float (N, 10) weights over the digits (see class_weights)."""
        one_hot = class_weights(labels, z.dtype)
        embedding = one_hot @ self.embed.weight if labels.is_floating_point() else self.embed(labels)
        x = self.fc(torch.cat([z, embedding], dim=1)).view(-1, 2 * self.channels, 7, 7)
        x = F.relu(self.norm0(x, one_hot))
        x = F.relu(self.norm1(self.up(x), one_hot))
        if self.fine:
            x = F.relu(self.norm2(F.pixel_shuffle(self.to_fine(x), 2), one_hot))
        x = F.pixel_shuffle(self.to_pixels(x), self.upscale).clamp(-1, 1)
        if self.output == "coverage":
            x = F.avg_pool2d(x, SUPERSAMPLE)
        return x


class MinibatchStd(nn.Module):
    """Appends the batch's mean feature std as one extra channel (ProGAN): a collapsed batch has std ~0, so D can
    tell it from real data and G is pushed back towards variety."""

    def __init__(self, group_size=4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x):
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = 1
        if g == 1:
            std = x.new_zeros(n, 1, h, w)
        else:
            y = x.reshape(g, n // g, c * h * w)
            # Written out rather than y.var(0): a reduction over the leading dim is ~10x slower on CPU.
            std = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean(1)  # (n // g,)
            std = std.view(1, -1, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, std], dim=1)


class DCGANDiscriminator(nn.Module):
    """Strided convs with spectral norm, a minibatch-std channel, then a projection head:
    score = w . h(x, y) + embed(y) . h(x, y)  (Miyato & Koyama 2018).

    The label also enters at the input, as 10 one-hot planes beside the image, so that the first conv can look
    for class-specific strokes: with the projection head alone, D learned the classes slowly (see
    docs/training-notes.md).

    deep=True adds a 3x3 conv after each downsampling. The 2-conv D ends near the hinge loss of a coin toss (1.9)
    and lets G drop the rarer styles; the deeper one scored higher recall, precision and accuracy on a GPU.

    stem > 0 puts a 3x3 conv of that many channels on the 28x28 image, before the first downsampling: D then looks
    at each pixel's neighbourhood at full resolution, where the texture of a stroke's edge is (the grey of its edge
    pixels, the faint ones included), which the first strided conv takes in only linearly. In a deep D it takes the
    place of the 3x3 conv after the first downsampling, so that D costs what it did (docs/training-notes.md).
    """

    def __init__(self, channels=32, deep=False, stem=0):
        super().__init__()
        self.stem = (nn.Sequential(spectral_norm(nn.Conv2d(1, stem, 3, 1, 1)), nn.LeakyReLU(0.2, True))
                     if stem else nn.Identity())  # stem x 28 x 28
        self.image_channels = stem or 1
        self.input_conv = spectral_norm(nn.Conv2d(self.image_channels + NUM_CLASSES, channels, 4, 2, 1))  # 14 x 14
        planes = torch.eye(NUM_CLASSES)[:, :, None, None].expand(-1, -1, 28, 28).clone()
        self.register_buffer("label_planes", planes, persistent=False)  # (10, 10, 28, 28): one set per label
        layers = [nn.LeakyReLU(0.2, True)]
        if deep and not stem:
            layers += [spectral_norm(nn.Conv2d(channels, channels, 3, 1, 1)), nn.LeakyReLU(0.2, True)]
        layers += [spectral_norm(nn.Conv2d(channels, 2 * channels, 4, 2, 1)), nn.LeakyReLU(0.2, True)]  # 2ch x 7 x 7
        if deep:
            layers += [spectral_norm(nn.Conv2d(2 * channels, 2 * channels, 3, 1, 1)), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers, MinibatchStd(), nn.Flatten())  # (2channels + 1) x 7 x 7, flat
        feature_dim = (2 * channels + 1) * 7 * 7
        self.linear = spectral_norm(nn.Linear(feature_dim, 1))
        self.embed = spectral_norm(nn.Embedding(NUM_CLASSES, feature_dim))

    def forward(self, images, labels):
        weight = self.input_conv.weight
        # conv([image; planes]) = conv(image) + conv(planes), and the second term depends on the label only:
        # computed once per label and looked up, it costs nothing per image.
        image_part = F.conv2d(self.stem(images), weight[:, :self.image_channels], self.input_conv.bias, stride=2,
                              padding=1)
        label_part = F.conv2d(self.label_planes.to(images.dtype), weight[:, self.image_channels:], stride=2, padding=1)
        h = self.features(image_part + label_part[labels])
        return self.linear(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)


class AuxiliaryClassifier(nn.Module):
    """A small CNN that reads which digit an image is, trained on real digits beside D (`aux_weight` in training).

    G pays its cross-entropy on the fakes, so a fake that reads as another digit costs G directly. Unlike AC-GAN's
    classifier inside D, it never learns from fakes, so it cannot be fitted to G's mistakes (docs/training-notes.md).
    """

    def __init__(self, channels=32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 4, 2, 1), nn.LeakyReLU(0.2, True),  # channels x 14 x 14
            nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 2channels x 7 x 7
            nn.Flatten(), nn.Linear(2 * channels * 7 * 7, NUM_CLASSES))

    def forward(self, images):
        return self.net(images)


def check_arch(arch, size, deep_d, d_size, output, d_stem=0, g_fine=0):
    """ValueError naming the problem unless `arch` is in ARCHS and `size`, `deep_d`, `d_size`, `output`, `d_stem` and
    `g_fine` are options it has."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if d_size is not None and d_size not in SIZES:
        raise ValueError(f"d_size must be one of {', '.join(SIZES)}, got {d_size!r}")
    if arch == "seed" and size != "small":
        raise ValueError(f"the seed architecture comes in one size (small), got {size!r}")
    for name, value in (("d_stem", d_stem), ("g_fine", g_fine)):
        check_int(name, value, 0, 256)  # channels
    if arch == "seed" and g_fine:
        raise ValueError("the seed architecture keeps the report's generator; g_fine is for dcgan")
    if arch == "seed" and (deep_d or d_size is not None or d_stem):
        raise ValueError("the seed architecture keeps the report's discriminator; deep_d, d_size and d_stem are for "
                         "dcgan")
    if arch == "seed" and output != SEED_OUTPUT:
        raise ValueError(f"the seed architecture keeps the report's generator, whose output is {SEED_OUTPUT}, "
                         f"got {output!r}")
    if arch == "dcgan" and output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)} for dcgan, got {output!r}")


def default_deep_d(arch, size):
    """Whether D gets the extra convs when deep_d is not given: the size decides."""
    return arch == "dcgan" and DCGAN_SIZES[size][1]


def build_networks(arch, output, size="small", deep_d=None, d_size=None, d_stem=0, g_fine=0):
    """(generator, discriminator) for an architecture name in ARCHS and, for dcgan, a size in SIZES and G's last
    activation in OUTPUTS. D is of `d_size` (None: the same as G), deep_d=None gives it that size's depth, and
    d_stem > 0 a full-resolution conv of that many channels first; g_fine > 0 gives G a stage of that many channels
    at 28x28. Only G ships, so D may be larger than G at no cost to generation."""
    check_arch(arch, size, deep_d, d_size, output, d_stem, g_fine)
    if arch == "seed":
        return SeedGenerator(), SeedDiscriminator()
    d_size = d_size or size
    deep = default_deep_d(arch, d_size) if deep_d is None else deep_d
    return (DCGANGenerator(output, channels=DCGAN_SIZES[size][0], fine=g_fine),
            DCGANDiscriminator(channels=DCGAN_SIZES[d_size][0], deep=deep, stem=d_stem))
