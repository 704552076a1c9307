"""MNIST as whole tensors: from a local folder of the official .gz files, or downloaded by torchvision."""

import contextlib
import os
import shutil
from pathlib import Path

import torch
from filelock import FileLock
from torchvision.datasets import MNIST
from torchvision.datasets.utils import check_integrity

# The four official files and torchvision's MD5s for them.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_DIR_ENV = "CGAN_MNIST_DIR"
DEFAULT_DATA_DIR = "data"
VALIDATION_PER_DIGIT = 500  # training digits held out for choosing what training chooses by measuring
VALIDATION_SEED = 20261130  # fixed, so that every run holds out the same digits


class MnistUnavailableError(RuntimeError):
    """MNIST could be neither read from a local folder nor downloaded."""


def copy_local_mnist(mnist_dir, data_dir):
    """Check the four official .gz files in `mnist_dir` and copy them to where torchvision looks for them.

    `mnist_dir` is only read (it may be read-only); a file that is missing or whose MD5 is wrong raises
    MnistUnavailableError naming it.
    """
    source = Path(mnist_dir)
    if not source.is_dir():
        raise MnistUnavailableError(f"--mnist-dir {source} is not a folder; it must hold the four official MNIST .gz files")
    raw = Path(data_dir) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, md5 in MNIST_FILES.items():
        path = source / name
        if not path.is_file():
            raise MnistUnavailableError(f"MNIST file {name} is missing from {source}; the folder must hold all four of {sorted(MNIST_FILES)}")
        if not check_integrity(str(path), md5):
            raise MnistUnavailableError(f"MNIST file {path} is corrupt: its MD5 is not the official {md5}; replace it with the original file")
        target = raw / name
        if not check_integrity(str(target), md5):
            shutil.copyfile(path, target)
            # A stale extracted copy of a corrupt file would otherwise be read instead of the fresh .gz.
            (raw / name.removesuffix(".gz")).unlink(missing_ok=True)


def load_mnist(train=True, data_dir=DEFAULT_DATA_DIR, mnist_dir=None):
    """Return (images, labels): uint8 (N, 28, 28) with 0 = background, and int64 (N,).

    Looks in `mnist_dir` (or env CGAN_MNIST_DIR) first, else downloads through torchvision into `data_dir`.
    """
    mnist_dir = mnist_dir or os.environ.get(MNIST_DIR_ENV)
    with data_folder_lock(data_dir):
        if mnist_dir:
            copy_local_mnist(mnist_dir, data_dir)
        try:
            # With the .gz files already in place, torchvision only checks and extracts them: no network.
            dataset = MNIST(str(data_dir), train=train, download=True)
        except Exception as error:  # torchvision raises URLError, RuntimeError or OSError depending on what failed
            raise MnistUnavailableError(
                f"could not download MNIST into {data_dir} ({error}). Either connect to the internet, or pass "
                f"--mnist-dir DIR (or set {MNIST_DIR_ENV}) to a folder holding the four official .gz files"
            ) from error
    return dataset.data.clone(), dataset.targets.clone()


@contextlib.contextmanager
def data_folder_lock(data_dir):
    """One process at a time in `data_dir`: runs started together (seeds side by side on one GPU) all copy, download
    and extract into it, and one of them read a file another had only begun to write. A folder that cannot be
    written (a read-only copy, already extracted) is used without the lock: nobody can write there."""
    folder = Path(data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / ".mnist.lock")
        lock.acquire()
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


def validation_split(labels, per_digit=VALIDATION_PER_DIGIT):
    """(train indices, validation indices) into the MNIST training set: `per_digit` digits of each class held out,
    the same ones for every run. Training never sees them; what is chosen by measuring (the noise scale saved with a
    model, the choices behind the recipe) is chosen on them, so the test set stays for reporting."""
    held = torch.cat(pick_per_digit(labels, per_digit, torch.Generator().manual_seed(VALIDATION_SEED))).sort().values
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[held] = False
    return keep.nonzero().squeeze(1), held


def pick_per_digit(labels, per_digit, rng):
    """For each digit 0-9 in turn, the indices of `per_digit` of its `labels` (all, if it has fewer) in an order
    drawn from `rng`: the one way every random pick of some digits of each class is made."""
    picks = []
    for digit in range(10):
        idx = (labels == digit).nonzero().squeeze(1).cpu()
        picks.append(idx[torch.randperm(len(idx), generator=rng)[:per_digit]])
    return picks


def to_model_range(images, ink=255):
    """uint8 (N, 28, 28) images to float (N, 1, 28, 28) in [-1, 1], the range the networks work in: 0 to -1 and
    `ink` to 1, anything brighter clipped to 1."""
    if ink < 255:
        images = images.clamp(max=ink)
    return images.unsqueeze(1).float().div(ink / 2).sub(1.0)


def to_uint8(images, ink=255):
    """Float (N, 1, 28, 28) images in [-1, 1] to uint8 (N, 28, 28): -1 to 0 (background), 1 to `ink`, a number or a
    tensor (N,) of each image's own."""
    ink = torch.as_tensor(ink, dtype=images.dtype, device=images.device).reshape(-1, 1, 1)
    return images.squeeze(1).add(1.0).mul(ink / 2).round().clamp(0, 255).to(torch.uint8)


PLATEAU = 250  # MNIST's full ink: a digit's pixels from here up (every training digit has some)


def ink_levels(images):
    """{level: the fraction of `images` (uint8 (N, 28, 28)) whose full ink sits at that level}, a digit's level being
    the value most of its pixels of PLATEAU and above have. MNIST's resampling left each digit's full ink at a level
    of its own, 252 in a quarter of the training digits, 253 in nearly half, 254 in a quarter."""
    flat = images.reshape(len(images), -1).long()
    counts = torch.stack([(flat == level).sum(1) for level in range(PLATEAU, 256)], dim=1)
    levels = counts.argmax(1) + PLATEAU  # ties: the lower level
    shares = torch.bincount(levels - PLATEAU, minlength=256 - PLATEAU).double() / len(levels)
    return {PLATEAU + i: round(float(share), 6) for i, share in enumerate(shares) if share > 0}
