"""Speed: training throughput of each recipe, generation latency of the bundled generator, the app's server-side
time for a request of each tab, a hand found and written in, and a synthetic MNIST written.

    python -m benchmarks.speed                 # CPU (and the GPU too, when there is one)
    python -m benchmarks.speed --device cuda   # the GPU only
    python -m benchmarks.speed --device cuda --recipes dcgan-full   # one recipe's training only
    python -m benchmarks.speed --device cpu --recipes dcgan-quick --set g_fine=16  # what a change to a recipe costs

Every figure is the median of repeated runs after warm-up. Writes speed-<device>.json and speed-<device>.md to --out.
Training is timed as `train.py` runs it on the device (on a GPU torch.compile and bf16; bf16 on a CPU with AMX):
a step's time, times the steps of the recipe's epochs (the per-epoch sample grid, collapse probe and state, and
the evaluation at the end, come on top; the minutes a whole run took are in its training.json).

With --set (as benchmarks/variants.py takes it), the recipe and the recipe changed are timed in turn, round by round
in one process, so that the machine's drift (these machines are shared) falls on both: a training step of each, and
generate(64) of a generator of each network. The cost is the median of the rounds' ratios, the first round left out
as warm-up. Writes speed-<device>-<change>.json and .md, leaving speed-<device>.md as it is.
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import label, machine_line, parse_change, write_results
from cgan.data import load_mnist, to_model_range
from cgan.dataset import write_dataset
from cgan.generation import ConditionalGenerator
from cgan.hub import load_generator
from cgan.recipe import RECIPES, custom_recipe
from cgan.result_files import ResultFiles
from cgan.run_state import TrainConfig
from cgan.serving import serve, serve_morph, serve_my_hand, serve_number, serve_style_rows
from cgan.training import Trainer

# (arch, budget): the recipe of each budget, and the report's network
RECIPE_NAMES = [("dcgan", "quick"), ("dcgan", "full"), ("seed", "quick")]
RECIPES_BY_NAME = {f"{arch}-{budget}": (arch, budget) for arch, budget in RECIPE_NAMES}  # as --recipes names them
DATASET_DIGITS = 60_000


def recipes_named(text):
    """The (arch, budget) of each comma-separated recipe name in `text` (--recipes); any other name stops the
    benchmark, naming the known ones."""
    names = text.split(",")
    if any(name not in RECIPES_BY_NAME for name in names):
        sys.exit(f"error: --recipes takes names from {', '.join(RECIPES_BY_NAME)}, got {text!r}")
    return [RECIPES_BY_NAME[name] for name in names]


def timed(fn, repeats, sync):
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def device_sync(device):
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def training_steps(arch, budget, device, images, labels, steps, compile=None, recipe=None, bf16=None):
    """(trainer, run): run() takes `steps` training steps of the recipe on one fixed batch (compile and bf16 as
    train.py takes them: None is its default for the device)."""
    trainer = Trainer(TrainConfig(arch=arch, budget=budget, device=str(device), out="/tmp/cgan-speed",
                                  compile=compile, recipe=recipe, bf16=bf16))
    batch = trainer.recipe.batch_size
    rng = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(labels), (batch,), generator=rng)
    real, y = to_model_range(images[idx], trainer.recipe.ink).to(device), labels[idx].to(device)
    z = torch.randn(batch, trainer.gan.G.z_dim, generator=rng).to(device)

    def run():
        for _ in range(steps):
            trainer.gan.step(real, y, z)

    return trainer, run


def training_throughput(arch, budget, device, images, labels, compile=None, steps=30, repeats=5):
    steps = max(8, steps * 64 // RECIPES[(arch, budget)].batch_size)
    trainer, run = training_steps(arch, budget, device, images, labels, steps, compile)
    batch = trainer.recipe.batch_size
    sync = device_sync(device)
    run()  # warm-up (and compilation, where it is on)
    seconds = timed(run, repeats, sync)
    train_images = 55000 if trainer.recipe.validation else len(labels)
    return {"arch": arch, "budget": budget, "compiled": trainer.config.compile, "bf16": trainer.config.bf16,
            "batch_size": batch,
            "images_per_s": steps * batch / seconds, "epoch_minutes": train_images / (steps * batch / seconds) / 60,
            "recipe_minutes": trainer.recipe.epochs * train_images / (steps * batch / seconds) / 60}


def generation_latency(generator, n, sync, repeats):
    generator.generate(3, n, seed=0)  # warm-up
    generator.generate(3, n, seed=0)
    seconds = timed(lambda: generator.generate(3, n, seed=1), repeats, sync)
    return {"n": n, "ms": seconds * 1000, "images_per_s": n / seconds}


def in_turn(arms, rounds, sync):
    """Time each arm's parts in turn, round by round (which arm goes first alternates), so that the machine's drift
    falls on all of them. arms: {arm: {part: fn}}. Returns {part: {arm: [seconds of each round after the first]}}."""
    names = list(arms)
    times = {part: {name: [] for name in names} for part in arms[names[0]]}
    for round_ in range(rounds + 1):
        for name in names if round_ % 2 == 0 else names[::-1]:
            for part, fn in arms[name].items():
                times[part][name].append(timed(fn, 1, sync))
    return {part: {name: seconds[1:] for name, seconds in by_arm.items()} for part, by_arm in times.items()}


def ratio_of(base_times, other_times, per=1, names=("recipe", "changed")):
    """The two arms' median ms (each time divided by `per`) under "<name>_ms", and the median and range of the
    rounds' ratios of the second to the first."""
    ratios = [other / base for base, other in zip(base_times, other_times)]
    return {f"{names[0]}_ms": statistics.median(base_times) * 1000 / per,
            f"{names[1]}_ms": statistics.median(other_times) * 1000 / per,
            "ratio": statistics.median(ratios), "ratio_range": [min(ratios), max(ratios)]}


def change_cost(arch, budget, changed, change, device, images, labels, rounds=25, steps=15, n=64):
    """The recipe of (arch, budget) against `changed`, the same with `change` (its label): each round times `steps`
    training steps and one generate(n) of each in turn. Medians over the rounds after the first."""
    recipes = {"recipe": RECIPES[(arch, budget)], "changed": changed}
    arms = {}
    for name, recipe in recipes.items():
        generator = ConditionalGenerator.for_recipe(arch, recipe).to(device)
        arms[name] = {"step": training_steps(arch, budget, device, images, labels, steps, recipe=recipe)[1],
                      "generate": lambda generator=generator: generator.generate(3, n, seed=1)}
    times = in_turn(arms, rounds, device_sync(device))
    result = {"arch": arch, "budget": budget, "change": change, "rounds": rounds, "steps_per_round": steps,
              "batch_size": recipes["recipe"].batch_size, "generate_n": n}
    for part, per in (("step", steps), ("generate", 1)):
        result[part] = ratio_of(times[part]["recipe"], times[part]["changed"], per)
    return result


def app_handling(generator, drawings, repeats=30):
    """The server's time for one request of each tab, as the app serves it: parsing, generation, the files written
    where Gradio serves them from, and Gradio's postprocessing and file bookkeeping of the outputs."""
    import gradio as gr
    from gradio.processing_utils import move_files_to_cache

    with gr.Blocks() as demo:
        gallery, picture = gr.Gallery(format="png"), gr.Image(type="filepath")
    files = ResultFiles(Path(demo.GRADIO_CACHE) / "cgan-digits-benchmark")

    def shown(component, value):
        move_files_to_cache(component.postprocess(value), component, postprocess=True)

    hand_requests = iter(drawings * repeats)
    tabs = {
        "digits, 64": lambda: shown(gallery, serve(generator, files, 7, 64, None).image_paths),
        "digits, 16": lambda: shown(gallery, serve(generator, files, 7, 16, None).image_paths),
        "a number, 12 digits by 8 hands": lambda: shown(picture, serve_number(generator, files, "0151 2345 678", 8,
                                                                               None).path),
        "one hand 0-9, 16 rows": lambda: shown(picture, serve_style_rows(generator, files, 16, None).path),
        "a morph, 48 frames": lambda: shown(picture, serve_morph(generator, files, 3, 8, None, None, 48).path),
        "my hand: a drawing's hand found, 2026 written in it": lambda: shown(picture, serve_my_hand(
            generator, files, next(hand_requests), "2026").path),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the app serves each request
    result = {}
    for name, request in tabs.items():
        request()
        result[name] = timed(request, repeats, lambda: None) * 1000
    torch.set_num_threads(threads)
    return result


def hand_time(generator, drawings):
    """Median seconds, over test digits standing in for drawings, of finding a hand and writing 2026 in it."""
    generator.find_hand(drawings[0])  # loads the classifier once, as the app does at its first drawing
    times = []
    for drawing in drawings:
        start = time.perf_counter()
        generator.write_number("2026", hand=generator.find_hand(drawing))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dataset_time(generator, repeats=3):
    """Median seconds of writing a synthetic MNIST of DATASET_DIGITS training digits (and 10,000 test digits)."""
    times = []
    for _ in range(repeats):
        folder = Path(tempfile.mkdtemp(prefix="cgan-dataset-"))
        try:
            start = time.perf_counter()
            write_dataset(generator, folder / "synth", DATASET_DIGITS, seed=0, progress=False)
            times.append(time.perf_counter() - start)
        finally:
            shutil.rmtree(folder)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                        help="all: the CPU, and the GPU when there is one")
    parser.add_argument("--recipes", default=",".join(RECIPES_BY_NAME),
                        help=f"the recipes whose training to time, comma-separated (default: "
                             f"{','.join(RECIPES_BY_NAME)})")
    parser.add_argument("--set", dest="changes", action="append", type=parse_change, default=[],
                        metavar="SETTING=VALUE", help="time the recipes against themselves with this setting changed "
                                                      "(cgan/recipe.py); repeat for more")
    parser.add_argument("--rounds", type=int, default=25, help="with --set: rounds timed, after one of warm-up")
    parser.add_argument("--steps", type=int, default=15, help="with --set: training steps per round")
    args = parser.parse_args(argv)
    recipes = recipes_named(args.recipes)
    if args.rounds < 1 or args.steps < 1:
        sys.exit(f"error: --rounds and --steps must be 1 or more, got {args.rounds} and {args.steps}")
    changes = dict(args.changes)
    change, changed = label(changes), {}  # changed: (arch, budget) -> its recipe with the changes, checked here
    for arch, budget in recipes if changes else []:
        try:
            changed[arch, budget] = custom_recipe(arch, budget, **changes)
        except ValueError as error:
            sys.exit(f"error: {arch}-{budget} with {change}: {error}")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda, but no CUDA GPU is available")
    devices = [torch.device(kind) for kind in ("cpu", "cuda")
               if args.device in ("all", kind) and (kind == "cpu" or torch.cuda.is_available())]
    images, labels = load_mnist(True, mnist_dir=args.mnist_dir)
    for device in devices:
        if changed:
            entry = {"machine": machine_line(device),
                     "costs": [change_cost(arch, budget, recipe, change, device, images, labels, args.rounds,
                                           args.steps) for (arch, budget), recipe in changed.items()]}
            write_results(args.out, f"speed-{device.type}-{change}", entry, cost_report(device.type, entry))
            continue
        sync = device_sync(device)
        generator = load_generator(device=str(device))
        # On CUDA, train.py compiles by default: time that, and the eager networks beside it.
        modes = [None, False] if device.type == "cuda" else [None]
        entry = {"machine": machine_line(device),
                 "training": [training_throughput(arch, budget, device, images, labels, compile)
                              for arch, budget in recipes for compile in modes],
                 "generator": f"{generator.arch} ({generator.size})",
                 "generation": [generation_latency(generator, n, sync, 50 if n < 1024 else 10)
                                for n in (1, 16, 64, 1024)]}
        if device.type == "cpu":
            drawings = [image.numpy() for image in load_mnist(False, mnist_dir=args.mnist_dir)[0][:20]]
            entry["app_ms"] = app_handling(generator, drawings)
            entry["hand_seconds"] = hand_time(generator, drawings)
            entry["dataset_seconds"] = dataset_time(generator)
        print(json.dumps(entry, indent=2), flush=True)
        write_results(args.out, f"speed-{device.type}", entry, report(device.type, entry))


def heading(kind, entry):
    return f"**{kind.upper()}**. {entry['machine']}"


def report(kind, entry):
    """The markdown tables of one device's measurements."""
    lines = [heading(kind, entry), "",
             "| training | budget | torch.compile | bf16 | batch | images/s | minutes per epoch "
             "| minutes of training steps for the budget |",
             "|---|---|---|---|---|---|---|---|"]
    yes_no = {True: "yes", False: "no"}
    lines += [f"| {t['arch']} | {t['budget']} | {yes_no[t['compiled']]} | {yes_no[t['bf16']]} | {t['batch_size']} | "
              f"{t['images_per_s']:.0f} | {t['epoch_minutes']:.2f} | {t['recipe_minutes']:.1f} |"
              for t in entry["training"]]
    lines += ["", f"Generation, the bundled generator ({entry['generator']}):", "",
              "| generate(n) | median ms | images/s |", "|---|---|---|"]
    lines += [f"| {g['n']} | {g['ms']:.2f} | {g['images_per_s']:.0f} |" for g in entry["generation"]]
    if "app_ms" in entry:
        lines += ["", "App, the server's time for one request (one torch thread, as the app serves; with Gradio's "
                      "postprocessing of the outputs):", "", "| tab | median ms |", "|---|---|"]
        lines += [f"| {name} | {ms:.1f} |" for name, ms in entry["app_ms"].items()]
        lines += ["", f"A hand found from a drawing and 2026 written in it: {entry['hand_seconds'] * 1000:.0f} ms "
                      f"(median of 20 MNIST test digits, all threads).",
                  f"A synthetic MNIST written, {DATASET_DIGITS:,} training and 10,000 test digits: "
                  f"{entry['dataset_seconds']:.1f} s (median of 3)."]
    return "\n".join(lines) + "\n"


def cost_report(kind, entry):
    """The markdown table of what a change to the recipes costs on one device."""
    lines = [heading(kind, entry), "",
             "| recipe | change | timed | the recipe, ms | changed, ms | median ratio | ratios' range | rounds |",
             "|---|---|---|---|---|---|---|---|"]
    for cost in entry["costs"]:
        for part, what in (("step", f"a training step (batch {cost['batch_size']})"),
                           ("generate", f"generate({cost['generate_n']})")):
            t = cost[part]
            lines.append(f"| {cost['arch']}-{cost['budget']} | {cost['change']} | {what} | {t['recipe_ms']:.1f} | "
                         f"{t['changed_ms']:.1f} | {t['ratio']:.2f} | {t['ratio_range'][0]:.2f}-"
                         f"{t['ratio_range'][1]:.2f} | {cost['rounds']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
