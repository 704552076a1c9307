"""Shared fixtures. MNIST comes from $CGAN_MNIST_DIR, else ../shared/data/mnist/raw beside the repo (read-only),
else a torchvision download."""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist" / "raw"

# Before huggingface_hub is imported (it reads this once, at import): the suite never touches the network.
os.environ["HF_HUB_OFFLINE"] = "1"

if not os.environ.get("CGAN_MNIST_DIR") and SHARED_MNIST.is_dir():
    os.environ["CGAN_MNIST_DIR"] = str(SHARED_MNIST)


def pytest_collection_modifyitems(config, items):
    """Under mutmut (docs/testing.md) the quickest tests run first: a mutant is done at its first failing test, so
    that should be a quick one. mutmut runs a mutant's tests from mutants/, beside its record of each test's time."""
    if os.environ.get("MUTANT_UNDER_TEST", "stats") in ("stats", "list_all_tests"):
        return
    record = Path("mutmut-stats.json")
    if record.is_file():
        seconds = json.loads(record.read_text())["duration_by_test"]
        items.sort(key=lambda item: seconds.get(item.nodeid, 0.0))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One extracted copy of MNIST for the whole session."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def test_set(data_dir):
    from cgan.data import load_mnist
    return load_mnist(train=False, data_dir=data_dir)


@pytest.fixture(scope="session")
def mnist_dir(data_dir, test_set):
    """A folder holding the four official .gz files (after the download, if there was no local one)."""
    from cgan.data import load_mnist
    load_mnist(train=True, data_dir=data_dir)
    return Path(os.environ.get("CGAN_MNIST_DIR") or data_dir / "MNIST" / "raw")
