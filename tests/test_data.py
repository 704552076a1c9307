import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from cgan.data import MNIST_FILES, MnistUnavailableError, ink_levels, load_mnist, to_model_range, to_uint8

ROOT = Path(__file__).resolve().parent.parent


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


def test_each_image_may_have_its_own_ink_level():
    x = torch.ones(3, 1, 2, 2)
    x[:, :, 0, 0] = 0  # half ink
    assert to_uint8(x, torch.tensor([252.0, 253.0, 254.0]))[:, 0].tolist() == [[126, 252], [126, 253], [127, 254]]


def test_the_ink_levels_of_mnist_are_each_digits_own_plateau(data_dir):
    images, _ = load_mnist(True, data_dir=data_dir)
    levels = ink_levels(images)
    # MNIST's resampling left a quarter of its digits' full ink at 252, nearly half at 253, a quarter at 254.
    assert set(levels) <= set(range(250, 256)) and sum(levels.values()) == pytest.approx(1, abs=1e-5)
    assert levels[252] == pytest.approx(0.22, abs=0.03) and levels[253] == pytest.approx(0.43, abs=0.03)
    assert levels[254] == pytest.approx(0.28, abs=0.03)
    # A digit's level is the value most of its pixels from 250 up have, not its brightest pixel.
    digit = torch.zeros(2, 28, 28, dtype=torch.uint8)
    digit[0, 5:10, 5:10], digit[0, 0, 0] = 252, 255
    digit[1, 5:10, 5:10], digit[1, 5, 5:7] = 254, 253
    assert ink_levels(digit) == {252: 0.5, 254: 0.5}


@pytest.mark.slow
def test_runs_started_at_once_share_one_data_folder(mnist_dir, tmp_path):
    # Seeds trained side by side on one GPU all start by copying and extracting MNIST into the same folder.
    script = ("import sys; from cgan.data import load_mnist; images, labels = load_mnist(train=False, "
              "data_dir=sys.argv[1], mnist_dir=sys.argv[2]); print(int(images.sum()), int(labels.sum()))")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "data"), str(mnist_dir)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(3)]
    results = [run.communicate(timeout=300) + (run.returncode,) for run in runs]
    assert [code for _, _, code in results] == [0] * 3, [err[-500:] for _, err, _ in results]
    assert len({out for out, _, _ in results}) == 1


@pytest.mark.slow
def test_a_run_waits_while_another_is_writing_the_data_folder(mnist_dir, tmp_path):
    # On the GPU machine one of three runs read an extracted file another had only begun to write, and failed.
    data = tmp_path / "data"
    load_mnist(train=False, data_dir=data, mnist_dir=mnist_dir)
    script = ("import sys; from cgan.data import load_mnist; print('started', flush=True); "
              "load_mnist(train=False, data_dir=sys.argv[1], mnist_dir=sys.argv[2]); print('loaded', flush=True)")
    with FileLock(data / ".mnist.lock"):  # what another run holds while it copies and extracts
        run = subprocess.Popen([sys.executable, "-c", script, str(data), str(mnist_dir)], stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)
        assert run.stdout.readline().strip() == "started"
        time.sleep(2)  # loading the extracted test set takes well under a second
        assert run.poll() is None
    assert run.stdout.readline().strip() == "loaded"
    assert run.wait(timeout=60) == 0


def test_a_data_folder_that_cannot_be_locked_is_read_without_the_lock(mnist_dir, data_dir, monkeypatch):
    # A read-only folder with MNIST already extracted worked before the lock, and still does.
    class ReadOnly:
        def __init__(self, path):
            pass

        def acquire(self):
            raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("cgan.data.FileLock", ReadOnly)
    images, labels = load_mnist(train=False, data_dir=data_dir, mnist_dir=mnist_dir)
    assert images.shape == (10000, 28, 28) and labels[:3].tolist() == [7, 2, 1]
