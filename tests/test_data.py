import shutil

import pytest
import torch

from cgan.data import MNIST_FILES, MnistUnavailableError, load_mnist, to_model_range, to_uint8


def test_local_files_load_as_whole_tensors(mnist_dir, data_dir):
    images, labels = load_mnist(train=True, data_dir=data_dir, mnist_dir=mnist_dir)
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60000,) and labels.dtype == torch.int64
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_test_split_is_the_official_one(test_set):
    images, labels = test_set
    assert images.shape == (10000, 28, 28)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_source_folder_is_only_read(mnist_dir, tmp_path):
    before = sorted(p.name for p in mnist_dir.iterdir())
    load_mnist(train=False, data_dir=tmp_path, mnist_dir=mnist_dir)
    assert sorted(p.name for p in mnist_dir.iterdir()) == before


def test_missing_file_is_named(mnist_dir, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in MNIST_FILES:
        if name != "t10k-labels-idx1-ubyte.gz":
            shutil.copy(mnist_dir / name, partial / name)
    with pytest.raises(MnistUnavailableError, match="t10k-labels-idx1-ubyte.gz is missing"):
        load_mnist(train=False, data_dir=tmp_path / "data", mnist_dir=partial)


def test_corrupt_file_is_named_and_not_used(mnist_dir, tmp_path):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(mnist_dir, corrupt)
    path = corrupt / "train-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(MnistUnavailableError, match="train-labels-idx1-ubyte.gz is corrupt"):
        load_mnist(train=True, data_dir=tmp_path / "data", mnist_dir=corrupt)


def test_not_a_folder_is_named(tmp_path):
    with pytest.raises(MnistUnavailableError, match="is not a folder"):
        load_mnist(data_dir=tmp_path, mnist_dir=tmp_path / "nowhere")


def test_no_local_files_and_no_network_names_both_fixes(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST
    monkeypatch.delenv("CGAN_MNIST_DIR", raising=False)
    # Nothing listens on port 9 of this machine: a download that cannot reach any mirror, on any machine.
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(MnistUnavailableError) as error:
        load_mnist(train=False, data_dir=tmp_path)
    assert "--mnist-dir" in str(error.value) and "internet" in str(error.value)


def test_model_range_round_trips():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    x = to_model_range(images)
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(to_uint8(x), images)


def test_model_range_at_an_ink_level_clips_brighter_pixels_and_round_trips_below():
    images = torch.tensor([0, 1, 126, 252, 253, 254, 255], dtype=torch.uint8).view(1, 1, 7).expand(1, 28, 7)
    x = to_model_range(images, ink=253)
    assert x[0, 0, 0].tolist() == pytest.approx([-1, -1 + 2 / 253, -1 + 252 / 253, 1 - 2 / 253, 1, 1, 1], abs=1e-6)
    assert to_uint8(x, ink=253)[0, 0].tolist() == [0, 1, 126, 252, 253, 253, 253]
