"""A run's settings and its saved state: what a new run trains with, what a resumed one may change, and state.pt,
written atomically and read back checked.

A run is the command that started it. `--resume` goes on with the run's own settings: --epochs, the device and the
precision may change, and each change is recorded; any other setting that differs would make another run and is
refused by name. A resume that changes nothing is recorded as a time only.
"""

import dataclasses
import datetime
import errno
import os
import shutil
from pathlib import Path

import torch

from cgan.data import DEFAULT_DATA_DIR
from cgan.models import ARCHS, DEFAULT_ARCH
from cgan.recipe import BUDGETS, RECIPES, Recipe, default_budget, recipe_from_saved

MIN_FREE_BYTES = 64 * 2**20  # a run folder needs a few MB per epoch; less free space than this is refused up front
FIXED_ON_RESUME = ("arch", "budget", "seed", "limit", "recipe")  # asking a resumed run for another value: refused
MAY_CHANGE_ON_RESUME = ("epochs", "device", "bf16")  # changed on a resume: recorded


@dataclasses.dataclass
class TrainConfig:
    """What `python train.py` is asked for. None means the default: for a new run the recipe's, for a resumed run its
    own."""

    arch: str | None = None  # None: dcgan
    budget: str | None = None  # "quick" or "full" (cgan.recipe.BUDGETS); None: "full" on a CUDA GPU, else "quick"
    epochs: int | None = None  # None: the recipe's; more extends a run
    seed: int | None = None  # None: 0
    device: str = "auto"
    out: str = "runs/default"
    data_dir: str = DEFAULT_DATA_DIR
    mnist_dir: str | None = None
    limit: int | None = None  # train on the first `limit` images only (quick trials, tests)
    resume: bool = False
    compile: bool | None = None  # torch.compile G, D and the classifier; None: on a CUDA GPU only
    bf16: bool | None = None  # train under bf16 autocast; None: where the hardware does bf16 natively (native_bf16)
    recipe: Recipe | None = None  # None: RECIPES[arch, budget]; experiments and tests may give their own
    command: str | None = None  # the command line that asked for this, recorded in training.json


class TrainingError(RuntimeError):
    """Training cannot go on; the message says why and what was kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C: the state was saved at the end of the step in progress."""


def new_run_config(config, device_type):
    """`config` of a new run with its defaults filled in: dcgan, the budget of `device_type` where none is named (the
    full one on a CUDA GPU, else the quick one), that budget's recipe, which no device changes, and its epochs."""
    arch = config.arch or DEFAULT_ARCH
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    budget = config.budget or default_budget(device_type)
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    recipe = config.recipe or RECIPES[(arch, budget)]
    return dataclasses.replace(config, arch=arch, budget=budget, seed=config.seed or 0, recipe=recipe,
                               epochs=config.epochs or recipe.epochs)


@dataclasses.dataclass
class Resumed:
    """A resumed run: its config (its own settings, with the changes asked for), its saved state, the command that
    started it, and its record of resumes and changes, this one's included."""

    config: TrainConfig
    state: dict
    command: str | None
    resumes: list  # {"epoch": the epoch it went on after, "at": UTC time}
    changes: list  # {"epoch", "setting", "old", "new"}


def resume(config, state_path, device_type):
    """The run saved in `state_path`, going on as `config` asks: see the module's text. FileNotFoundError without a
    state, TrainingError for a damaged one or one saved by an older version, ValueError for a setting refused."""
    if not state_path.exists():
        raise FileNotFoundError(f"--resume: no {state_path} to resume from; start without --resume")
    state = load_state(state_path)
    saved = state["config"]
    missing = [key for key in ("command", "resumes", "changes", "partial") if key not in state]
    missing += [key for key in ("arch", "budget", "seed", "limit", "epochs", "bf16", "device_type") if key not in saved]
    try:
        if missing:
            raise ValueError(f"it was saved by an older version of train.py (it has no {', '.join(missing)})")
        recipe = recipe_from_saved(saved)
    except ValueError as error:
        raise TrainingError(f"{state_path} cannot be resumed: {error}; start a new run (another --out)") from None
    own = {name: saved[name] for name in ("arch", "budget", "seed", "limit")} | {"recipe": recipe}
    for name in FIXED_ON_RESUME:
        asked = getattr(config, name)
        if asked is not None and asked != own[name]:
            what = "the recipe" if name == "recipe" else f"--{name} {own[name]}"
            raise ValueError(f"--resume: this run was trained with {what}; it cannot go on with {name} {asked!r} "
                             f"(that would be another run: give it another --out)")
    asked = {"epochs": config.epochs or saved["epochs"], "device": device_type,
             "bf16": saved["bf16"] if config.bf16 is None else config.bf16}
    old = {"epochs": saved["epochs"], "device": saved["device_type"], "bf16": saved["bf16"]}
    changes = list(state["changes"]) + [{"epoch": state["epoch"], "setting": name, "old": old[name], "new": asked[name]}
                                        for name in MAY_CHANGE_ON_RESUME if asked[name] != old[name]]
    resumes = list(state["resumes"]) + [{"epoch": state["epoch"],
                                         "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}]
    config = dataclasses.replace(config, epochs=asked["epochs"], bf16=asked["bf16"], **own)
    return Resumed(config, state, state["command"], resumes, changes)


def atomic_save(obj, path):
    """torch.save to a temporary file, then rename: a crash mid-write leaves the previous file intact."""
    tmp = Path(str(path) + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-written file behind
        raise


def save_state(state, path):
    """state.pt, atomically: a failed write (a full disk) is a TrainingError, with the previous state.pt as it was."""
    try:
        atomic_save(state, path)
    except OSError as error:
        kept = f"{path} still holds epoch {saved_epoch(path)}" if path.exists() else "no state was saved yet"
        raise TrainingError(f"could not write {path} after epoch {state['epoch']} ({error.strerror or error}); "
                            f"{kept}, intact. Free some space and resume with --resume") from None


def saved_epoch(path):
    try:
        return load_state(path)["epoch"]
    except Exception:
        return "?"


def load_state(path):
    """A saved state.pt, read with weights_only=True (tensors and plain data only, never code); a damaged file is a
    TrainingError naming it."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise TrainingError(f"{path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0]}): it is "
                            f"damaged or not a state saved by train.py; start a new run (another --out)") from None


def prepare_folder(out):
    """Make the run folder, or a TrainingError before any training if it cannot be written or the disk is full."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"cgan")
        probe.unlink()
    except OSError as error:
        raise TrainingError(f"--out {out} cannot be written ({error.strerror or error}); choose another folder") \
            from None
    free = shutil.disk_usage(out).free
    if free < MIN_FREE_BYTES:
        raise TrainingError(f"--out {out}: only {free / 2**20:.1f} MB free on its disk; a run needs at least "
                            f"{MIN_FREE_BYTES / 2**20:.0f} MB (errno {errno.ENOSPC}: no space left)")
