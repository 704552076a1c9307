"""A synthetic MNIST written by cgan.dataset (and `python -m cgan.generate --dataset`), read back as MNIST."""

import json
import os

import numpy as np
import pytest
import torch
import torchvision

import cgan.dataset
from cgan import ConditionalGenerator, load_generator
from cgan.dataset import CHUNK, balanced_labels, write_dataset
from cgan.generate import main as generate_main


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    """A saved generator (untrained: what it draws does not matter here, only that it is what is written)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    ConditionalGenerator("dcgan", "coverage", 253, ink_levels={252: 0.3, 253: 0.7}).save_pretrained(folder)
    return load_generator(folder)


def drawn(generator, n_train, n_test, digits, seed, scale):
    """What the set of that seed must hold: balanced, shuffled labels and the generator's digits for the seed's noise
    stream, the test digits after the training ones."""
    rng = torch.Generator().manual_seed(seed)
    splits = []
    for n in (n_train, n_test):
        labels = balanced_labels(n, digits, rng)
        z = torch.cat([torch.randn(len(labels[i:i + CHUNK]), generator.z_dim, generator=rng)
                       for i in range(0, n, CHUNK)])
        splits.append((generator.draw(z * scale, labels), labels.numpy()))
    return splits


def test_a_written_set_reads_back_through_torchvision_and_numpy_exactly_as_drawn(generator, tmp_path):
    manifest = write_dataset(generator, tmp_path / "synth", 5000, 1003, seed=7, noise_scale=0.8, progress=False)
    (train_x, train_y), (test_x, test_y) = drawn(generator, 5000, 1003, list(range(10)), 7, 0.8)
    train = torchvision.datasets.MNIST(tmp_path / "synth", train=True)
    test = torchvision.datasets.MNIST(tmp_path / "synth", train=False)
    assert np.array_equal(train.data.numpy(), train_x) and np.array_equal(train.targets.numpy(), train_y)
    assert np.array_equal(test.data.numpy(), test_x) and np.array_equal(test.targets.numpy(), test_y)
    arrays = np.load(tmp_path / "synth" / "mnist.npz")
    assert sorted(arrays.files) == ["x_test", "x_train", "y_test", "y_train"]
    for key, expected in (("x_train", train_x), ("y_train", train_y), ("x_test", test_x), ("y_test", test_y)):
        assert arrays[key].dtype == np.uint8 and np.array_equal(arrays[key], expected), key
    # Balanced (1003 = 100 of each, the first three one more), shuffled, and no test digit a training one again.
    assert np.bincount(train_y).tolist() == [500] * 10
    assert np.bincount(test_y).tolist() == [101] * 3 + [100] * 7
    assert len(set(train_y[:10].tolist())) > 1
    assert not {bytes(image) for image in train_x} & {bytes(image) for image in test_x}
    # The manifest says what made it and what it holds; it is the same on disk.
    assert manifest == json.loads((tmp_path / "synth" / "manifest.json").read_text())
    assert (manifest["seed"], manifest["noise_scale"], manifest["digits"]) == (7, 0.8, list(range(10)))
    assert manifest["weights_sha256"] == cgan.hub.weights_sha256(generator.source)
    assert manifest["train"] == {"count": 5000, "per_digit": {str(d): 500 for d in range(10)}}
    assert set(manifest["files"]) == {"mnist.npz", *(f"MNIST/raw/{name}" for name in cgan.dataset.file_names())}
    assert not (tmp_path / "synth" / ".partial").exists()


def test_some_digits_only_at_the_models_own_scale_and_a_random_seed_recorded(generator, tmp_path):
    manifest = write_dataset(generator, tmp_path / "d38", 21, 4, digits=[8, 3], progress=False)
    train = torchvision.datasets.MNIST(tmp_path / "d38", train=True)
    assert train.targets.bincount(minlength=10).tolist() == [0, 0, 0, 11, 0, 0, 0, 0, 10, 0]
    assert manifest["digits"] == [3, 8] and manifest["noise_scale"] == generator.noise_scale
    (train_x, _), _ = drawn(generator, 21, 4, [3, 8], manifest["seed"], generator.noise_scale)
    assert np.array_equal(train.data.numpy(), train_x)  # the recorded seed makes it again


def test_digits_are_drawn_a_chunk_at_a_time(generator, tmp_path, monkeypatch):
    sizes = []
    draw = generator.draw
    monkeypatch.setattr(generator, "draw", lambda z, labels: sizes.append(len(z)) or draw(z, labels))
    write_dataset(generator, tmp_path / "big", 2 * CHUNK + 5, 10, seed=0, progress=False)
    assert sizes == [CHUNK, CHUNK, 5, 10]


@pytest.mark.parametrize("kwargs, message", [
    ({"n_train": 0}, "the training count must be an integer 1-2147483647, got 0"),
    ({"n_train": 2.5}, "the training count must be an integer"),
    ({"n_train": 10, "n_test": 0}, "the test count must be an integer 1-"),
    ({"n_train": 10, "digits": [3, 10]}, "digit must be an integer 0-9, got 10"),
    ({"n_train": 10, "digits": [3, 3]}, "digits must be distinct digits 0-9"),
    ({"n_train": 10, "digits": []}, "digits must be distinct digits 0-9, at least one"),
    ({"n_train": 10, "noise_scale": 9}, "noise_scale must be a number 0.3-1.5"),
    ({"n_train": 10, "seed": -1}, "seed must be an integer 0-4294967295"),
])
def test_bad_requests_are_refused_by_name_before_anything_is_written(generator, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_dataset(generator, tmp_path / "bad", progress=False, **kwargs)
    assert not (tmp_path / "bad").exists()


def test_a_folder_that_holds_a_dataset_or_mnist_itself_is_left_alone(generator, tmp_path):
    write_dataset(generator, tmp_path / "synth", 10, 10, seed=1, progress=False)
    before = (tmp_path / "synth" / "mnist.npz").read_bytes()
    with pytest.raises(ValueError, match="already holds a dataset .*manifest.json.*choose another --out"):
        write_dataset(generator, tmp_path / "synth", 20, 10, seed=2, progress=False)
    assert (tmp_path / "synth" / "mnist.npz").read_bytes() == before
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"the user's own MNIST")
    with pytest.raises(ValueError, match="already holds a dataset .*train-images-idx3-ubyte"):
        write_dataset(generator, tmp_path / "mnist", 10, 10, progress=False)
    assert (raw / "train-images-idx3-ubyte").read_bytes() == b"the user's own MNIST"


def test_a_run_that_fails_leaves_nothing_that_looks_like_a_dataset(generator, tmp_path, monkeypatch):
    def full_disk(raw, path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cgan.dataset, "write_npz", full_disk)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("the user's")
    with pytest.raises(OSError, match="No space left"):
        write_dataset(generator, tmp_path / "out", 100, 10, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["notes.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_that_cannot_be_written_is_an_error(generator, tmp_path):
    (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(OSError):
        write_dataset(generator, tmp_path / "ro", 10, 10, progress=False)


def test_the_shell_command_writes_a_set_and_refuses_bad_input(generator, tmp_path, capsys):
    generate_main(["--dataset", "30", "--digits", "3,8", "--test", "6", "--seed", "4", "--model", generator.source,
                   "--out", str(tmp_path / "synth")])
    assert "wrote 30 training and 6 test digits (3, 8; seed 4" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "synth" / "manifest.json").read_text())
    assert manifest["command"].startswith("python -m cgan.generate --dataset 30 --digits 3,8")
    assert torchvision.datasets.MNIST(tmp_path / "synth", train=False).targets.tolist().count(3) == 3
    for argv, message in ((["--dataset", "-5"], "error: the training count must be an integer"),
                          (["--dataset", "10", "--digits", "3,12"], "error: digit must be an integer 0-9, got 12")):
        with pytest.raises(SystemExit, match=message):
            generate_main([*argv, "--model", generator.source, "--out", str(tmp_path / "other")])
    with pytest.raises(SystemExit):
        generate_main(["--dataset", "10", "--digits", "x", "--out", str(tmp_path / "other")])
    assert "expected digits like 3,8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        generate_main(["--digit", "3", "--test", "5", "--out", str(tmp_path / "x.png")])
    assert "--digits and --test are for --dataset" in capsys.readouterr().err
