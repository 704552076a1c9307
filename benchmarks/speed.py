"""Speed: training throughput of each recipe, generation latency of the bundled generator, and the app's server-side
time for a request of each tab.

    python benchmarks/speed.py                 # CPU (and the GPU too, when there is one)
    python benchmarks/speed.py --device cuda   # the GPU only
    python benchmarks/speed.py --device cuda --recipes dcgan-full   # one recipe's training only
    python benchmarks/speed.py --device cpu --recipes dcgan-quick --set g_fine=16  # what a change to a recipe costs

Every figure is the median of repeated runs after warm-up. Writes speed-<device>.json and speed-<device>.md to --out.
Training is timed as `train.py` runs it on the device (on a GPU torch.compile and bf16, and also without
torch.compile; bf16 on a CPU with AMX, benchmarks/bf16.py).

With --set (as benchmarks/variants.py takes it), the recipe and the recipe changed are timed in turn, round by round
in one process, so that the machine's drift (these machines are shared) falls on both: a training step of each, and
generate(64) of a generator of each network. The cost is the median of the rounds' ratios, the first round left out
as warm-up. Writes speed-<device>-<change>.json and .md, leaving speed-<device>.md as it is.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cgan.data import load_mnist, to_model_range  # noqa: E402
from cgan.generation import ConditionalGenerator  # noqa: E402
from cgan.hub import load_generator  # noqa: E402
from cgan.recipe import RECIPES, custom_recipe  # noqa: E402
from cgan.serving import ResultFiles, serve, serve_morph, serve_number, serve_style_rows  # noqa: E402
from cgan.training import TrainConfig, Trainer  # noqa: E402
from cgan.device import describe  # noqa: E402
from variants import label, parse_change  # noqa: E402

# (arch, budget): the recipe of each budget, and the report's network
RECIPE_NAMES = [("dcgan", "quick"), ("dcgan", "full"), ("seed", "quick")]
RECIPES_BY_NAME = {f"{arch}-{budget}": (arch, budget) for arch, budget in RECIPE_NAMES}  # as --recipes names them


def recipes_named(text):
    """The (arch, budget) of each comma-separated recipe name in `text` (--recipes); any other name stops the
    benchmark, naming the known ones."""
    names = text.split(",")
    if any(name not in RECIPES_BY_NAME for name in names):
        sys.exit(f"error: --recipes takes names from {', '.join(RECIPES_BY_NAME)}, got {text!r}")
    return [RECIPES_BY_NAME[name] for name in names]


def write_results(out, name, entry, table):
    """A benchmark's measurements as out/name.json and their markdown table as out/name.md, the table printed too."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(entry, indent=2))
    (out / f"{name}.md").write_text(table)
    print(table)


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
    z = torch.randn(batch, trainer.G.z_dim, generator=rng).to(device)

    def run():
        for _ in range(steps):
            trainer.train_step(real, y, z)

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


def app_handling(generator, repeats=30):
    """The server's time for one request of each tab, as the app serves it: parsing, generation, the files written
    where Gradio serves them from, and Gradio's postprocessing and file bookkeeping of the outputs."""
    import gradio as gr
    from gradio.processing_utils import move_files_to_cache

    with gr.Blocks() as demo:
        gallery, picture = gr.Gallery(format="png"), gr.Image(type="filepath")
    files = ResultFiles(Path(demo.GRADIO_CACHE) / "cgan-digits-benchmark")

    def shown(component, value):
        move_files_to_cache(component.postprocess(value), component, postprocess=True)

    tabs = {
        "digits, 64": lambda: shown(gallery, serve(generator, files, 7, 64, None).image_paths),
        "digits, 16": lambda: shown(gallery, serve(generator, files, 7, 16, None).image_paths),
        "a number, 12 digits by 8 hands": lambda: shown(picture, serve_number(generator, files, "0151 2345 678", 8,
                                                                               None).path),
        "one hand 0-9, 16 rows": lambda: shown(picture, serve_style_rows(generator, files, 16, None).path),
        "a morph, 48 frames": lambda: shown(picture, serve_morph(generator, files, 3, 8, None, None, 48).path),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the app serves each request
    result = {}
    for name, request in tabs.items():
        request()
        result[name] = timed(request, repeats, lambda: None) * 1000
    torch.set_num_threads(threads)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
            entry = {"machine": describe(device), "torch": torch.__version__,
                     "costs": [change_cost(arch, budget, recipe, change, device, images, labels, args.rounds,
                                           args.steps) for (arch, budget), recipe in changed.items()]}
            write_results(args.out, f"speed-{device.type}-{change}", entry, cost_report(device.type, entry))
            continue
        sync = device_sync(device)
        generator = load_generator(device=str(device))
        # On CUDA, train.py compiles by default: time that, and the eager networks beside it.
        modes = [None, False] if device.type == "cuda" else [None]
        entry = {"machine": describe(device), "torch": torch.__version__,
                 "training": [training_throughput(arch, budget, device, images, labels, compile)
                              for arch, budget in recipes for compile in modes],
                 "generator": f"{generator.arch} ({generator.size})",
                 "generation": [generation_latency(generator, n, sync, 50 if n < 1024 else 10)
                                for n in (1, 16, 64, 1024)]}
        if device.type == "cpu":
            entry["app_ms"] = app_handling(generator)
        print(json.dumps(entry, indent=2), flush=True)
        write_results(args.out, f"speed-{device.type}", entry, report(device.type, entry))


def heading(kind, entry):
    return f"**{kind.upper()}**: {entry['machine']}, torch {entry['torch']}"


def report(kind, entry):
    """The markdown tables of one device's measurements."""
    lines = [heading(kind, entry), "",
             "| training | recipe | torch.compile | bf16 | batch | images/s | minutes per epoch "
             "| minutes for the recipe |",
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
