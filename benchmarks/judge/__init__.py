"""The independent judge of hands: an MNIST network the project never trains against and the hand search never sees.

`cgan/` never imports it: it exists so that `python -m benchmarks.hands` can grade found hands with eyes the search
was not tuned on (the evaluation classifier, cgan/classifier.py, is both the search's guide and its first grader).
Trained apart (`python -m benchmarks.judge`, README.md beside this file), with another seed and another architecture
than the evaluation classifier's: 5x5 and strided convolutions with GELU and no BatchNorm, where the classifier has
3x3 convolutions, BatchNorm and max-pooling; an 80-d feature layer where it has 128; its own augmentation.

Besides the digit, the judge reads a digit's ink and slant from its 80 features: a small read-out network
(80 -> 128 -> 2), trained after the judge on its frozen features of the training digits to give
cgan.hands.stroke_style's ink and slant. The hands benchmark compares hands in these features and read-outs, not
in the pixels the search fits.
"""

import contextlib
import io
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

JUDGE = Path(__file__).resolve().parent  # its weights live beside this file (config.json, model.safetensors)
FEATURES = 80


class Judge(nn.Module, PyTorchModelHubMixin, library_name="cgan-digits", license="mit"):
    """uint8 (N, 28, 28) digits -> 10 logits; `features` the 80-d embedding, `ink_and_slant` the (N, 2) read-out."""

    def __init__(self, width=32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 5, padding=2), nn.GELU(),  # width x 28 x 28
            nn.Conv2d(width, 48, 5, stride=2, padding=2), nn.GELU(),  # 48 x 14 x 14
            nn.Conv2d(48, 64, 3, stride=2, padding=1), nn.GELU(),  # 64 x 7 x 7
            nn.Conv2d(64, 64, 3, padding=1), nn.GELU(),  # 64 x 7 x 7
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, FEATURES), nn.GELU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURES, 10))
        # Trained after the rest, on its frozen features (fit_read_out): ink and slant as the features hold them, in
        # units of the training digits' spread about their mean (kept here, so that `look` gives stroke_style's units).
        self.read_out = nn.Sequential(nn.Linear(FEATURES, 128), nn.GELU(), nn.Linear(128, 2))
        self.register_buffer("style_mean", torch.zeros(2))
        self.register_buffer("style_std", torch.ones(2))

    @staticmethod
    def prepare(images):
        """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1] (the classifier works in [-1, 1]: another habit)."""
        images = torch.as_tensor(images)
        return images.float().div(255).unsqueeze(1) if images.dtype == torch.uint8 else images.float()

    def features(self, images):
        return self.body(self.prepare(images))

    def forward(self, images):
        return self.head(self.features(images))

    @torch.inference_mode()
    def look(self, images, batch_size=2000):
        """(features (N, 80), digits read (N,), ink and slant read (N, 2)) of uint8 digits (N, 28, 28)."""
        self.eval()
        parts = []
        for start in range(0, len(images), batch_size):
            features = self.features(images[start:start + batch_size])
            style = self.read_out(features) * self.style_std + self.style_mean
            parts.append((features, self.head(features).argmax(1), style))
        return tuple(torch.cat(part) for part in zip(*parts, strict=True))


def load_judge(source=JUDGE):
    """The judge kept with the benchmarks (or saved in `source`), in eval mode, without grad."""
    with contextlib.redirect_stdout(io.StringIO()):  # huggingface_hub's "Loading weights from local directory"
        return Judge.from_pretrained(str(source), strict=True).eval().requires_grad_(False)
