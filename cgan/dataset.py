"""A synthetic MNIST on demand: labelled digits drawn by a generator, written as MNIST's own files.

    python -m cgan.generate --dataset 60000 --out synth/              # 60,000 training digits, 10,000 test digits
    python -m cgan.generate --dataset 20000 --digits 3,8 --test 2000 --seed 1 --out synth38/

The folder then holds what torchvision keeps for MNIST, so `torchvision.datasets.MNIST("synth")` (and any loader of
MNIST's IDX files) reads it as it reads MNIST, beside the same four arrays as Keras's `mnist.npz`:

    synth/MNIST/raw/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte
    synth/mnist.npz         x_train, y_train, x_test, y_test (uint8)
    synth/manifest.json     the model (its weights' SHA-256), the seed, the noise scale, the digits of each split

Each split is balanced over the digits asked for (the first ones get one more where the count does not divide) and
shuffled; the test digits are drawn after the training digits from the same seeded stream, so none is a training
digit again. Digits are drawn and written a chunk at a time: memory stays bounded whatever the count. The manifest is
written last and the files are moved into place only when all of them are whole: a run that fails or is stopped
leaves nothing that looks like a dataset.
"""

import hashlib
import json
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from cgan.checks import check_int
from cgan.generation import MAX_SEED, new_seed
from cgan.hub import weights_sha256
from cgan.models import NUM_CLASSES

CHUNK = 4096  # digits drawn and written at a time
MAX_COUNT = 2**31 - 1  # an IDX file's dimensions are 32-bit
RAW = Path("MNIST") / "raw"
SPLITS = {"train": "train", "test": "t10k"}  # a split's name, and its files' prefix in MNIST's layout
MANIFEST = "manifest.json"
NPZ = "mnist.npz"
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801  # unsigned bytes, 3 and 1 dimensions (LeCun's IDX format)


def check_digits(digits):
    """The digits to draw, as a sorted list of distinct integers 0-9; ValueError naming a bad one."""
    digits = [check_int("digit", digit, 0, NUM_CLASSES - 1) for digit in digits]
    if not digits or len(set(digits)) != len(digits):
        raise ValueError(f"digits must be distinct digits 0-9, at least one, got {digits!r}")
    return sorted(digits)


def balanced_labels(n, digits, rng):
    """int64 (n,) labels, as many of each digit as can be (the first digits one more), in an order shuffled by
    `rng`."""
    counts = [n // len(digits) + (i < n % len(digits)) for i in range(len(digits))]
    labels = torch.tensor(digits).repeat_interleave(torch.tensor(counts))
    return labels[torch.randperm(n, generator=rng)]


def write_dataset(generator, out, n_train, n_test=10_000, digits=range(NUM_CLASSES), seed=None, noise_scale=None,
                  command=None, progress=True):
    """Write a labelled synthetic MNIST drawn by `generator` into the folder `out` (see the module's text); returns
    the manifest. ValueError for a bad count, digit or noise scale, or a folder that already holds a dataset;
    OSError for one that cannot be written, with nothing of the dataset left behind."""
    n_train = check_int("the training count", n_train, 1, MAX_COUNT)
    n_test = check_int("the test count", n_test, 1, MAX_COUNT)
    digits = check_digits(digits)
    scale = generator.sampling_scale(noise_scale)
    seed = new_seed() if seed is None else check_int("seed", seed, 0, MAX_SEED)
    out = Path(out)
    existing = [path for path in (out / MANIFEST, out / NPZ, *(out / RAW / name for name in file_names()))
                if path.exists()]
    if existing:
        raise ValueError(f"{out} already holds a dataset ({existing[0]}): choose another --out, or delete it first")
    out.mkdir(parents=True, exist_ok=True)
    partial = out / ".partial"
    shutil.rmtree(partial, ignore_errors=True)  # what a stopped run left
    try:
        (partial / RAW).mkdir(parents=True)
        rng = torch.Generator().manual_seed(seed)
        bar = tqdm(total=n_train + n_test, unit="digit", desc=f"writing {out}", disable=not progress)
        counts = {}
        for split, n in (("train", n_train), ("test", n_test)):
            labels = balanced_labels(n, digits, rng)
            write_split(generator, partial / RAW, SPLITS[split], labels, scale, rng, bar)
            counts[split] = {str(d): int((labels == d).sum()) for d in digits}
        bar.close()
        write_npz(partial / RAW, partial / NPZ)
        manifest = {
            "model": str(getattr(generator, "source", None)), "weights_sha256": weights_sha256(generator.source)
            if getattr(generator, "source", None) else None, "seed": seed, "noise_scale": scale, "digits": digits,
            "train": {"count": n_train, "per_digit": counts["train"]},
            "test": {"count": n_test, "per_digit": counts["test"]},
            "files": {str(path.relative_to(partial)): sha256(path)
                      for path in sorted(partial.rglob("*")) if path.is_file()},
            "command": command,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
        for name in file_names():  # into place, the manifest last: only a whole dataset has one
            (out / RAW).mkdir(parents=True, exist_ok=True)
            (partial / RAW / name).replace(out / RAW / name)
        (partial / NPZ).replace(out / NPZ)
        (partial / MANIFEST).replace(out / MANIFEST)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        for path in (out / RAW / name for name in file_names()):
            path.unlink(missing_ok=True)
        (out / NPZ).unlink(missing_ok=True)
        raise
    shutil.rmtree(partial, ignore_errors=True)
    return manifest


def file_names():
    return [f"{prefix}-{kind}" for prefix in SPLITS.values() for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]


def write_split(generator, folder, prefix, labels, scale, rng, bar):
    """The split's images and labels as IDX files, drawn a chunk at a time from `rng`'s noise stream."""
    n = len(labels)
    with open(folder / f"{prefix}-images-idx3-ubyte", "wb") as images, \
            open(folder / f"{prefix}-labels-idx1-ubyte", "wb") as label_file:
        images.write(struct.pack(">IIII", IMAGES_MAGIC, n, 28, 28))
        label_file.write(struct.pack(">II", LABELS_MAGIC, n))
        for drawn, chunk in draw_in_chunks(generator, labels, scale, rng):
            images.write(drawn.tobytes())
            label_file.write(chunk.numpy().astype(np.uint8).tobytes())
            bar.update(len(chunk))


def draw_in_chunks(generator, labels, scale, rng):
    """(uint8 images, their labels) of `labels`, drawn CHUNK at a time with noise from `rng` at `scale`."""
    for start in range(0, len(labels), CHUNK):
        chunk = labels[start:start + CHUNK]
        yield generator.draw(torch.randn(len(chunk), generator.z_dim, generator=rng) * scale, chunk), chunk


def write_npz(raw, path):
    """mnist.npz (x_train, y_train, x_test, y_test, as Keras keeps MNIST), streamed from the IDX files."""
    arrays = {"x_train": ("train", "images-idx3-ubyte", 16), "y_train": ("train", "labels-idx1-ubyte", 8),
              "x_test": ("t10k", "images-idx3-ubyte", 16), "y_test": ("t10k", "labels-idx1-ubyte", 8)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, (prefix, kind, header) in arrays.items():
            with open(raw / f"{prefix}-{kind}", "rb") as source:
                n = struct.unpack(">I", source.read(8)[4:8])[0]
                source.seek(header)
                shape = (n, 28, 28) if kind.startswith("images") else (n,)
                with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array_header_1_0(member, {"descr": "|u1", "fortran_order": False,
                                                                  "shape": shape})
                    shutil.copyfileobj(source, member, length=2**22)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(2**22), b""):
            digest.update(block)
    return digest.hexdigest()
