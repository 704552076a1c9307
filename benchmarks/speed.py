"""Speed: training throughput of each recipe, generation latency of the bundled generator (or --model's), the app's
server-side time for a request of each tab, a hand found and written in, and a synthetic MNIST written.

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

Beside each figure, the arithmetic it did: GFLOP/s, and on a CPU their share of the CPU's peak.

FLOPs are counted by torch.utils.flop_counter.FlopCounterMode, from the shapes of the operations that ran: matrix
products and convolutions (transposed ones too), forward and backward, a multiply-add as 2 FLOPs, over a
convolution's zero padding too (the convention; up to a fifth of a 7 x 7 map's 3 x 3 convolution). It counts nothing
else: activations, BatchNorm, pooling, pixel shuffles, the losses, Adam and the EMA, spectral norm's power iteration
(a matrix-vector product), the sampling grid of an augmentation. In a training step of the full budget those wrote
0.08 G values against 18.3 GFLOP counted (2026-12-05): under 2% of the arithmetic at a few FLOPs a value, but
memory-bound, so more of the time than of the count. A training step is counted as cgan/gan.py takes it (D's step,
G's step, the auxiliary classifier's), the mean of R1_EVERY steps, one of which adds R1's penalty (a second backward
pass through D); once per recipe, on the CPU in fp32 without compilation: the same arithmetic as on any device. The
app's tabs, a hand and a synthetic MNIST are counted on work like the timed work: the mean of 20 requests of each
tab, the 20 drawings' hands, one synthetic MNIST.

The peak, fp32: cores x clock x FLOPs per cycle of a core, where FLOPs per cycle = FMA units x fp32 lanes of a unit
x 2 (a fused multiply-add). From /proc/cpuinfo: the cores, the physical ones torch's threads can use (one for the
app's requests, which it serves on one thread); the clock, cpufreq's maximum where the machine exposes it (lscpu's
"CPU max MHz"), else the "cpu MHz" /proc/cpuinfo gives; the lanes, from the flags: 16 with avx512f, but 8 on AMD
before Zen 5 (CPU family 26), whose Zen 4 runs AVX-512 as two 256-bit halves; 8 with avx2; else 4. Two FMA units a
core, as Intel's cores have since Haswell and AMD's since Zen (assumed: some Xeon Silver and Bronze have one, and
Zen 1's are 128 bits wide, so these are counted double).

On the README's 2-core AMD EPYC, a virtual machine that names no model and exposes no maximum clock: CPU family 25,
model 17 and the avx512 flags make it a Zen 4 ("Genoa", EPYC 9004), and the clock is its nominal 2596 MHz, so
2 x 2596 MHz x 32 (2 x 8 x 2) = 166 GFLOP/s. Zen 4 EPYCs boost to about 3.7 GHz: if these cores do, the peak is
237 GFLOP/s and every share 0.7 of the one shown. Its 2 CPUs are taken as 2 cores, as it reports them: were they
the 2 threads of one core, the full budget's training (18.3 GFLOP a step at 641 images/s, 2026-12-02) would run at
110% of that core's peak at this clock. A bf16 training row (on a CPU with AMX) and a GPU get GFLOP/s only: their
peak is not this one.
"""

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import label, machine_line, parse_change, write_results
from cgan.data import load_mnist, to_model_range
from cgan.dataset import write_dataset
from cgan.evaluate import shown_source
from cgan.generation import ConditionalGenerator
from cgan.hub import load_generator
from cgan.objective import R1_EVERY
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


class TotalFlops(FlopCounterMode):
    """torch's FLOP counter without its attribution to modules, whose backward hooks break torch.autograd.grad on a
    leaf tensor, which R1's penalty takes (pytorch/pytorch#131753). The total is all this benchmark reads."""

    class NoModules:  # in place of the counter's ModuleTracker: every count goes to the total
        parents = {"Global"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    def __init__(self):
        super().__init__(display=False)
        self.mod_tracker = self.NoModules()


def counted_flops(fn):
    """The floating-point operations of fn(), as torch.utils.flop_counter counts them (the docstring above)."""
    with TotalFlops() as counter:
        fn()
    return counter.get_total_flops()


def cpu_peak(threads, cpuinfo=Path("/proc/cpuinfo"),
             max_clock=Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")):
    """The fp32 peak of the cores `threads` threads can use, as the docstring above computes it: a dict of its
    factors and "gflop_per_s"; None where there is no /proc/cpuinfo to read it from."""
    if not cpuinfo.exists():
        return None
    processors = [dict((key.strip(), value.strip()) for key, _, value in
                       (line.partition(":") for line in block.splitlines()))
                  for block in cpuinfo.read_text().strip().split("\n\n")]
    first = processors[0]
    physical = len({(p.get("physical id"), p.get("core id")) for p in processors})
    cores = min(threads, physical, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else physical)
    if max_clock.exists():
        mhz, clock = int(max_clock.read_text()) / 1000, "the cores' maximum clock, cpufreq's"
    else:
        mhz, clock = float(first["cpu MHz"]), ("the clock as /proc/cpuinfo gives it: the machine exposes no maximum "
                                                "clock, and a boost above it would raise the peak")
    flags, family = set(first.get("flags", "").split()), int(first.get("cpu family", 0))
    amd_halves = first.get("vendor_id") == "AuthenticAMD" and family < 26  # AVX-512 as two 256-bit halves
    lanes = 16 if "avx512f" in flags and not amd_halves else 8 if {"avx2", "avx"} & flags else 4
    fma_units, per_lane = 2, 2 if "fma" in flags else 1
    flops_per_cycle = fma_units * lanes * per_lane
    return {"model": first.get("model name"), "family": family, "model_number": first.get("model"), "cores": cores,
            "mhz": mhz, "clock": clock, "fma_units": fma_units, "fp32_lanes": lanes, "flops_per_cycle": flops_per_cycle,
            "gflop_per_s": cores * mhz * flops_per_cycle / 1000}


def achieved(flops, seconds, peak):
    """GFLOP/s of `flops` done in `seconds`, and their share of `peak` (a cpu_peak, or None: no share)."""
    rate = flops / seconds / 1e9
    return {"gflop_per_s": rate, "peak_share": rate / peak["gflop_per_s"] if peak else None}


def step_flops(arch, budget, images, labels, recipe=None):
    """FLOPs of one training step of the recipe, as cgan/gan.py takes it: the mean of R1_EVERY steps, one of which
    adds R1's penalty. Counted on the CPU, in fp32, uncompiled: the same arithmetic on any device."""
    _, run = training_steps(arch, budget, torch.device("cpu"), images, labels, R1_EVERY, compile=False, recipe=recipe,
                            bf16=False)
    return counted_flops(run) / R1_EVERY


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


def training_throughput(arch, budget, device, images, labels, peak, compile=None, steps=30, repeats=5):
    """A training step's time (and the recipe's minutes from it), and its arithmetic: against `peak` (cpu_peak, or
    None) in fp32 only."""
    steps = max(8, steps * 64 // RECIPES[(arch, budget)].batch_size)
    trainer, run = training_steps(arch, budget, device, images, labels, steps, compile)
    batch = trainer.recipe.batch_size
    sync = device_sync(device)
    run()  # warm-up (and compilation, where it is on)
    seconds = timed(run, repeats, sync)
    train_images = 55000 if trainer.recipe.validation else len(labels)
    flops = step_flops(arch, budget, images, labels)
    return {"arch": arch, "budget": budget, "compiled": trainer.config.compile, "bf16": trainer.config.bf16,
            "batch_size": batch,
            "images_per_s": steps * batch / seconds, "epoch_minutes": train_images / (steps * batch / seconds) / 60,
            "recipe_minutes": trainer.recipe.epochs * train_images / (steps * batch / seconds) / 60,
            "gflop_per_step": flops / 1e9, **achieved(flops * steps, seconds, None if trainer.config.bf16 else peak)}


def generation_latency(generator, n, sync, repeats, peak):
    generator.generate(3, n, seed=0)  # warm-up
    generator.generate(3, n, seed=0)
    seconds = timed(lambda: generator.generate(3, n, seed=1), repeats, sync)
    flops = counted_flops(lambda: generator.generate(3, n, seed=1))
    return {"n": n, "ms": seconds * 1000, "images_per_s": n / seconds, "mflop": flops / 1e6,
            **achieved(flops, seconds, peak)}


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


def change_cost(arch, budget, changed, change, device, images, labels, peak, rounds=25, steps=15, n=64):
    """The recipe of (arch, budget) against `changed`, the same with `change` (its label): each round times `steps`
    training steps and one generate(n) of each in turn. Medians over the rounds after the first, and each arm's
    arithmetic against `peak` (cpu_peak, or None)."""
    recipes = {"recipe": RECIPES[(arch, budget)], "changed": changed}
    arms, flops = {}, {}
    for name, recipe in recipes.items():
        generator = ConditionalGenerator.for_recipe(arch, recipe).to(device)
        arms[name] = {"step": training_steps(arch, budget, device, images, labels, steps, recipe=recipe)[1],
                      "generate": lambda generator=generator: generator.generate(3, n, seed=1)}
        flops[name] = {"step": step_flops(arch, budget, images, labels, recipe),
                       "generate": counted_flops(arms[name]["generate"])}
    times = in_turn(arms, rounds, device_sync(device))
    result = {"arch": arch, "budget": budget, "change": change, "rounds": rounds, "steps_per_round": steps,
              "batch_size": recipes["recipe"].batch_size, "generate_n": n}
    for part, per in (("step", steps), ("generate", 1)):
        result[part] = ratio_of(times[part]["recipe"], times[part]["changed"], per)
        for name in recipes:
            result[part][name] = achieved(flops[name][part], result[part][f"{name}_ms"] / 1000, peak)
    return result


def app_handling(generator, drawings, peak, repeats=30):
    """The server's time for one request of each tab, as the app serves it: parsing, generation, the files written
    where Gradio serves them from, and Gradio's postprocessing and file bookkeeping of the outputs. Each tab's
    arithmetic, the mean over as many requests as there are `drawings`, against one core of `peak` (cpu_peak)."""
    import gradio as gr
    from gradio.processing_utils import move_files_to_cache

    with gr.Blocks() as demo:
        gallery, picture = gr.Gallery(format="png"), gr.Image(type="filepath")
    files = ResultFiles(Path(demo.GRADIO_CACHE) / "cgan-digits-benchmark")

    def shown(component, value):
        move_files_to_cache(component.postprocess(value), component, postprocess=True)

    hand_requests = itertools.cycle(drawings)
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
    one_core = peak and cpu_peak(1)
    result = {}
    for name, request in tabs.items():
        request()
        flops = counted_flops(lambda: [request() for _ in drawings]) / len(drawings)
        seconds = timed(request, repeats, lambda: None)
        result[name] = {"ms": seconds * 1000, **achieved(flops, seconds, one_core)}
    torch.set_num_threads(threads)
    return result


def hand_time(generator, drawings, peak):
    """Median seconds, over test digits standing in for drawings, of finding a hand and writing 2026 in it; and the
    arithmetic of all of them in their time, against `peak` (cpu_peak, or None)."""
    def hand(drawing):
        generator.write_number("2026", hand=generator.find_hand(drawing))

    generator.find_hand(drawings[0])  # loads the classifier once, as the app does at its first drawing
    times = []
    for drawing in drawings:
        start = time.perf_counter()
        hand(drawing)
        times.append(time.perf_counter() - start)
    flops = counted_flops(lambda: [hand(drawing) for drawing in drawings])
    return {"seconds": statistics.median(times), **achieved(flops, sum(times), peak)}


def dataset_time(generator, peak, repeats=3):
    """Median seconds of writing a synthetic MNIST of DATASET_DIGITS training digits (and 10,000 test digits), and
    its arithmetic against `peak` (cpu_peak, or None)."""
    def write():
        folder = Path(tempfile.mkdtemp(prefix="cgan-dataset-"))
        try:
            start = time.perf_counter()
            write_dataset(generator, folder / "synth", DATASET_DIGITS, seed=0, progress=False)
            return time.perf_counter() - start
        finally:
            shutil.rmtree(folder)

    seconds = statistics.median(write() for _ in range(repeats))
    flops = counted_flops(write)
    return {"seconds": seconds, **achieved(flops, seconds, peak)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--model", default=None, help="the generator to time generating, serving and writing with: a "
                        "local folder or Hub repo id (default: $CGAN_MODEL, else the bundled checkpoints/generator)")
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
    try:  # before anything is timed
        generators = {} if changed else {device: load_generator(args.model, device=str(device)) for device in devices}
    except (OSError, ValueError) as error:
        sys.exit(f"error: --model: {error}")
    images, labels = load_mnist(True, mnist_dir=args.mnist_dir)
    for device in devices:
        peak = cpu_peak(torch.get_num_threads()) if device.type == "cpu" else None
        if changed:
            entry = {"machine": machine_line(device), "peak": peak,
                     "costs": [change_cost(arch, budget, recipe, change, device, images, labels, peak, args.rounds,
                                           args.steps) for (arch, budget), recipe in changed.items()]}
            write_results(args.out, f"speed-{device.type}-{change}", entry, cost_report(device.type, entry))
            continue
        sync = device_sync(device)
        generator = generators[device]
        # On CUDA, train.py compiles by default: time that, and the eager networks beside it.
        modes = [None, False] if device.type == "cuda" else [None]
        entry = {"machine": machine_line(device), "peak": peak,
                 "training": [training_throughput(arch, budget, device, images, labels, peak, compile)
                              for arch, budget in recipes for compile in modes],
                 "generator": f"{shown_source(generator.source)}, {generator.arch} ({generator.size})",
                 "generation": [generation_latency(generator, n, sync, 50 if n < 1024 else 10, peak)
                                for n in (1, 16, 64, 1024)]}
        if device.type == "cpu":
            drawings = [image.numpy() for image in load_mnist(False, mnist_dir=args.mnist_dir)[0][:20]]
            entry["app"] = app_handling(generator, drawings, peak)
            entry["hand"] = hand_time(generator, drawings, peak)
            entry["dataset"] = dataset_time(generator, peak)
        print(json.dumps(entry, indent=2), flush=True)
        write_results(args.out, f"speed-{device.type}", entry, report(device.type, entry))


def heading(kind, entry):
    """The device's line, and the peak its GFLOP/s are set against (the docstring says how it is computed)."""
    peak = entry["peak"]
    if peak is None:
        against = ("GFLOP/s only: no peak computed for a GPU" if kind == "cuda" else
                   "GFLOP/s only: no /proc/cpuinfo to compute a peak from")
    else:
        against = (f"Peak, fp32: {peak['cores']} core{'s' if peak['cores'] > 1 else ''} x {peak['mhz']:.0f} MHz x "
                   f"{peak['flops_per_cycle']} FLOPs a cycle ({peak['fma_units']} FMA units x {peak['fp32_lanes']} "
                   f"lanes x 2) = {peak['gflop_per_s']:.0f} GFLOP/s ({peak['clock']})")
    return f"**{kind.upper()}**. {entry['machine']} {against}."


def rate(figure):
    """(GFLOP/s, share of the peak) of an `achieved` figure, as text."""
    return f"{figure['gflop_per_s']:.1f}", "—" if figure["peak_share"] is None else f"{figure['peak_share']:.0%}"


def report(kind, entry):
    """The markdown tables of one device's measurements."""
    lines = [heading(kind, entry), "",
             "| training | budget | torch.compile | bf16 | batch | images/s | minutes per epoch "
             "| minutes of training steps for the budget | GFLOP a step | GFLOP/s | of the peak |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    yes_no = {True: "yes", False: "no"}
    lines += [f"| {t['arch']} | {t['budget']} | {yes_no[t['compiled']]} | {yes_no[t['bf16']]} | {t['batch_size']} | "
              f"{t['images_per_s']:.0f} | {t['epoch_minutes']:.2f} | {t['recipe_minutes']:.1f} | "
              f"{t['gflop_per_step']:.2f} | {' | '.join(rate(t))} |"
              for t in entry["training"]]
    lines += ["", f"Generation, the generator {entry['generator']}:", "",
              "| generate(n) | median ms | images/s | MFLOP | GFLOP/s | of the peak |", "|---|---|---|---|---|---|"]
    lines += [f"| {g['n']} | {g['ms']:.2f} | {g['images_per_s']:.0f} | {g['mflop']:.0f} | {' | '.join(rate(g))} |"
              for g in entry["generation"]]
    if "app" in entry:
        lines += ["", "App, the server's time for one request (one torch thread, as the app serves; with Gradio's "
                      "postprocessing of the outputs):", "",
                  "| tab | median ms | GFLOP/s | of one core's peak |", "|---|---|---|---|"]
        lines += [f"| {name} | {tab['ms']:.1f} | {' | '.join(rate(tab))} |" for name, tab in entry["app"].items()]
        hand, dataset = entry["hand"], entry["dataset"]
        lines += ["", f"A hand found from a drawing and 2026 written in it: {hand['seconds'] * 1000:.0f} ms "
                      f"(median of 20 MNIST test digits, all threads; %s GFLOP/s, %s of the peak)." % rate(hand),
                  f"A synthetic MNIST written, {DATASET_DIGITS:,} training and 10,000 test digits: "
                  f"{dataset['seconds']:.1f} s (median of 3; %s GFLOP/s, %s of the peak)." % rate(dataset)]
    return "\n".join(lines) + "\n"


def cost_report(kind, entry):
    """The markdown table of what a change to the recipes costs on one device."""
    lines = [heading(kind, entry), "",
             "| recipe | change | timed | the recipe, ms | changed, ms | median ratio | ratios' range | rounds "
             "| GFLOP/s: the recipe, changed | of the peak |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for cost in entry["costs"]:
        for part, what in (("step", f"a training step (batch {cost['batch_size']})"),
                           ("generate", f"generate({cost['generate_n']})")):
            t = cost[part]
            (base_rate, base_share), (changed_rate, changed_share) = rate(t["recipe"]), rate(t["changed"])
            lines.append(f"| {cost['arch']}-{cost['budget']} | {cost['change']} | {what} | {t['recipe_ms']:.1f} | "
                         f"{t['changed_ms']:.1f} | {t['ratio']:.2f} | {t['ratio_range'][0]:.2f}-"
                         f"{t['ratio_range'][1]:.2f} | {cost['rounds']} | {base_rate}, {changed_rate} | "
                         f"{base_share}, {changed_share} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
