"""Try a change to the recipe: train it for a few seeds side by side and score each run on the validation split.

This is how the recipe's settings are chosen (docs/training-notes.md). Every run trains on the training digits outside
the validation split and is scored on the 5,000 inside it (500 samples per digit, sample seed 100): accuracy, the
Fréchet distances, precision, recall, the C2ST and the pixel TV. The test set is not looked at. Compare a change with
the recipe itself, trained for the same seeds in the same way:

    python -m benchmarks.variants --seeds 0,1                                 # the recipe as it is
    python -m benchmarks.variants --seeds 0,1 --set r1_gamma=0.3              # one change (several: repeat --set)
    python -m benchmarks.variants --budget full --seeds 0,1,2 --set aux_weight=0.3   # three side by side on a GPU
    python -m benchmarks.variants --score runs/variants/recipe-seed0          # score runs already trained
    python -m benchmarks.variants --budget full --seeds 0,1,2 --minutes 8      # a GPU for minutes: scored whatever happens

Runs go to --out/<change>-seed<S> (the generator, the logs, validation.json with the scores, no state.pt: a run here
is not resumed); the table is printed. Side by side, each run gets an equal share of the CPU cores (--threads sets
it); runs on one GPU share it. With --minutes, a run still training then stops where it is and is saved and scored
as it stands: a machine held for minutes still returns a score for every run (the table says which stopped early).
"""

import argparse
import concurrent.futures
import json
import math
import multiprocessing
import os
import shlex
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import label, parse_change, runs_table
from cgan.classifier import load_classifier
from cgan.data import DEFAULT_DATA_DIR, VALIDATION_PER_DIGIT, MnistUnavailableError, load_mnist, validation_split
from cgan.device import pick_device
from cgan.evaluate import Evaluator
from cgan.hub import load_generator, save_model
from cgan.recipe import BUDGETS, custom_recipe, default_budget
from cgan.run_state import TrainConfig, TrainingError, TrainingInterrupted
from cgan.training import Trainer, run_record, saved_generator

SAMPLE_SEED = 100  # the samples' seed: not the noise-scale choice's (the run's seed), so the scores are fresh draws


def seed_list(text):
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}") from None
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be different whole numbers, 0 or more, got {text!r}")
    return seeds


def validation_evaluator(data_dir, mnist_dir, device):
    """An Evaluator against the validation digits: their features are computed once for all the runs it scores."""
    images, labels = load_mnist(train=True, data_dir=data_dir, mnist_dir=mnist_dir)
    _, held = validation_split(labels)
    return Evaluator(load_classifier(), images[held], labels[held], device=device)


def train_run(budget, changes, seed, out, device, threads, args, command):
    """One run, in a worker process: train the changed recipe and save its generator as train.py does (its
    training.json records `command`); the run folder. After `args.minutes`, a run not yet done stops at the end of
    the step in progress and its generator is saved as it stands (training.json: "stopped")."""
    if threads:
        torch.set_num_threads(threads)
    recipe = custom_recipe("dcgan", budget, **changes)
    config = TrainConfig(arch="dcgan", budget=budget, seed=seed, out=str(out), recipe=recipe, data_dir=args.data_dir,
                         mnist_dir=args.mnist_dir, limit=args.limit, device=device, command=command)
    start = time.perf_counter()
    trainer = Trainer(config)
    stopped = None
    with open(out.parent / f"{out.name}.log", "w") as log_file:
        def log(line):
            print(line, file=log_file, flush=True)
        try:
            model = trainer.fit(log=log, progress=False, minutes=args.minutes)
        except TrainingInterrupted:
            stopped = f"after {args.minutes:g} minutes, {trainer.epoch} of {recipe.epochs} epochs done"
            log(f"stopped {stopped}: saved and scored as it stands")
            model = saved_generator(trainer, log)
    record = run_record(trainer, time.perf_counter() - start)
    if stopped:
        record["stopped"] = stopped
    save_model(model, out / "generator", training=record)
    (out / "state.pt").unlink(missing_ok=True)  # a run here is not resumed: its bulk goes (as in gpu_seeds.sh)
    return out


def score_folder(folder, evaluator, per_digit=VALIDATION_PER_DIGIT):
    """A trained run (by this script or by train.py) scored: its validation.json, written anew. Scored here, in the
    main process with all its threads, never in a worker: the C2ST trains a critic, whose figure moves by about 0.01
    with the number of threads it trained on."""
    folder = Path(folder)
    training = json.loads((folder / "generator" / "training.json").read_text())
    if not (training.get("recipe") or {}).get("validation"):
        raise ValueError(f"{folder} trained on the validation digits as well: they cannot score it")
    model = load_generator(str(folder / "generator"))
    result = {"change": folder.name.rsplit("-seed", 1)[0], "seed": training.get("seed"),
              "minutes": training.get("minutes"), "noise_scale": model.noise_scale, "per_digit": per_digit,
              "sample_seed": SAMPLE_SEED, "stopped": training.get("stopped")}
    scores = evaluator.score_generator(model, per_digit, seed=SAMPLE_SEED, two_sample=True)
    result.update({key: value for key, value in scores.items() if not isinstance(value, list)})
    (folder / "validation.json").write_text(json.dumps(result, indent=2))
    return result


def table(results):
    """A markdown table of the runs, with the mean and spread of each change's seeds."""
    groups = {}
    for result in results:
        groups.setdefault(result["change"], []).append(result)
    tables = [runs_table(sorted(runs, key=lambda run: run["seed"]),
                         {"change": "change", "seed": "seed", "noise_scale": "noise scale"})
              for runs in groups.values()]
    stopped = [f"{run['change']}, seed {run['seed']}: stopped {run['stopped']}" for run in results if run["stopped"]]
    return "\n\n".join(tables + (["\n".join(stopped)] if stopped else []))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.variants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="changes", type=parse_change, action="append", default=[],
                        metavar="SETTING=VALUE", help="a recipe setting changed (cgan/recipe.py); repeat for more")
    parser.add_argument("--seeds", type=seed_list, default=[0, 1], help="default 0,1")
    parser.add_argument("--budget", choices=BUDGETS, help="default: full on a CUDA GPU, else quick")
    parser.add_argument("--jobs", type=int, help="runs side by side (default: all the seeds)")
    parser.add_argument("--threads", type=int, help="CPU threads per run (default: the cores shared by the runs)")
    parser.add_argument("--limit", type=int, help="train on the first N images only (quick trials)")
    parser.add_argument("--minutes", type=float, help="stop a run still training after this many minutes and score "
                        "it as it stands (default: no limit)")
    parser.add_argument("--per-digit", type=int, default=VALIDATION_PER_DIGIT,
                        help=f"samples per digit scored (10-{VALIDATION_PER_DIGIT}, default {VALIDATION_PER_DIGIT})")
    parser.add_argument("--out", default="runs/variants", help="where the run folders go (default runs/variants)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="where torchvision keeps MNIST")
    parser.add_argument("--mnist-dir", help="offline: a folder with the four MNIST .gz files (or CGAN_MNIST_DIR)")
    parser.add_argument("--score", nargs="+", metavar="RUN", help="score these run folders instead of training")
    args = parser.parse_args(argv)
    for option in ("jobs", "threads", "limit"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option} must be 1 or more, got {value}")
    if args.minutes is not None and not (math.isfinite(args.minutes) and args.minutes > 0):
        parser.error(f"--minutes must be a number above 0, got {args.minutes:g}")
    if not 10 <= args.per_digit <= VALIDATION_PER_DIGIT:
        parser.error(f"--per-digit must be 10-{VALIDATION_PER_DIGIT} (the validation split's digits of each class), "
                     f"got {args.per_digit}")
    return args


def main(argv=None):
    args = parse_args(argv)
    command = "python -m benchmarks.variants " + shlex.join(sys.argv[1:] if argv is None else argv)
    device = pick_device("auto")
    if args.score:
        try:
            evaluator = validation_evaluator(args.data_dir, args.mnist_dir, device)
            results = [score_folder(folder, evaluator, args.per_digit) for folder in args.score]
        except (OSError, ValueError, KeyError, MnistUnavailableError) as error:
            sys.exit(f"error: a run could not be scored: {error}")
        print(table(results))
        return
    budget = args.budget or default_budget(device.type)
    changes = dict(args.changes)
    try:
        recipe = custom_recipe("dcgan", budget, **changes)  # a bad value is refused here, before any run starts
    except (TypeError, ValueError) as error:
        sys.exit(f"error: {error}")
    if not recipe.validation:
        sys.exit("error: validation=False holds no digits out to score on")
    jobs = min(args.jobs or len(args.seeds), len(args.seeds))
    threads = (args.threads or max(1, (os.cpu_count() or 1) // jobs)) if device.type == "cpu" else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Worker processes, not threads: each run sets its own torch thread count; spawn, as CUDA cannot be forked.
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {seed: pool.submit(train_run, budget, changes, seed, out / f"{label(changes)}-seed{seed}",
                                     device.type, threads, args, command) for seed in args.seeds}
        trained, failed = [], []
        for seed, future in futures.items():
            try:
                trained.append(future.result())
            except (OSError, ValueError, MnistUnavailableError, TrainingError) as error:
                failed.append(f"seed {seed}: {error}")
    if trained:
        evaluator = validation_evaluator(args.data_dir, args.mnist_dir, device)
        print(table([score_folder(folder, evaluator, args.per_digit) for folder in trained]))
    if failed:
        sys.exit("failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
