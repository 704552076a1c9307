"""Speed: training throughput per architecture and size, generation latency of the bundled generator, and the app's
server-side handling time.

    python benchmarks/speed.py                 # CPU (and the GPU too, when there is one)
    python benchmarks/speed.py --device cuda   # the GPU only

Every figure is the median of repeated runs after warm-up. Writes speed-<device>.json and speed-<device>.md to --out.
On a GPU, training is timed as `train.py` runs it there (torch.compile, bf16) and also without torch.compile.
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
from cgan.hub import load_generator  # noqa: E402
from cgan.serving import ResultFiles, serve  # noqa: E402
from cgan.training import TrainConfig, Trainer  # noqa: E402
from machine import describe  # noqa: E402


# (arch, size, deep_d): each size as it comes, the small G with the deeper D, and the report's network
NETWORKS = [("dcgan", "small", False), ("dcgan", "small", True), ("dcgan", "large", True), ("seed", "small", False)]


def timed(fn, repeats, sync):
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_throughput(arch, size, deep_d, device, images, labels, compile=None, steps=30, repeats=5):
    trainer = Trainer(TrainConfig(arch=arch, size=size, deep_d=deep_d, device=str(device), out="/tmp/cgan-speed",
                                  compile=compile))
    batch = trainer.config.batch_size
    rng = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(labels), (batch,), generator=rng)
    real, y = to_model_range(images[idx]).to(device), labels[idx].to(device)
    z = torch.randn(batch, trainer.G.z_dim, generator=rng).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run():
        for _ in range(steps):
            trainer.train_step(real, y, z)

    run()  # warm-up (and compilation, where it is on)
    seconds = timed(run, repeats, sync)
    return {"arch": arch, "size": size, "deep_d": deep_d, "compiled": trainer.config.compile, "batch_size": batch,
            "images_per_s": steps * batch / seconds, "epoch_minutes": len(labels) / (steps * batch / seconds) / 60}


def generation_latency(generator, n, sync, repeats):
    generator.generate(3, n, seed=0)  # warm-up
    generator.generate(3, n, seed=0)
    seconds = timed(lambda: generator.generate(3, n, seed=1), repeats, sync)
    return {"n": n, "ms": seconds * 1000, "images_per_s": n / seconds}


def app_handling(generator, repeats=50):
    """One request for 64 digits as the app serves it. `handler_ms`: parsing, generation and the 64 PNGs + the grid
    PNG encoded and written where Gradio serves them from; `with_gradio_ms`: that plus the gallery's own
    postprocessing and Gradio's cache bookkeeping of the 64 files."""
    import gradio as gr
    from gradio.processing_utils import move_files_to_cache

    with gr.Blocks() as demo:
        gallery = gr.Gallery(format="png")
    files = ResultFiles(Path(demo.GRADIO_CACHE) / "cgan-digits-benchmark")

    def handler():
        return serve(generator, files, 7, 64, None)

    def with_gradio():
        move_files_to_cache(gallery.postprocess(handler().image_paths), gallery, postprocess=True)

    for _ in range(2):
        with_gradio()
    return {"n": 64, "handler_ms": timed(handler, repeats, lambda: None) * 1000,
            "with_gradio_ms": timed(with_gradio, repeats, lambda: None) * 1000}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                        help="all: the CPU, and the GPU when there is one")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda, but no CUDA GPU is available")
    devices = [torch.device(kind) for kind in ("cpu", "cuda")
               if args.device in ("all", kind) and (kind == "cpu" or torch.cuda.is_available())]
    images, labels = load_mnist(True, mnist_dir=args.mnist_dir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for device in devices:
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        generator = load_generator(device=str(device))
        # On CUDA, train.py compiles by default: time that, and the eager networks beside it.
        modes = [None, False] if device.type == "cuda" else [None]
        entry = {"machine": describe(device), "torch": torch.__version__,
                 "training": [training_throughput(arch, size, deep_d, device, images, labels, compile)
                              for arch, size, deep_d in NETWORKS for compile in modes],
                 "generator": f"{generator.arch} ({generator.size})",
                 "generation": [generation_latency(generator, n, sync, 50 if n < 1024 else 10)
                                for n in (1, 16, 64, 1024)]}
        if device.type == "cpu":
            entry["app_request_64"] = app_handling(generator)
        print(json.dumps(entry, indent=2), flush=True)
        (out / f"speed-{device.type}.json").write_text(json.dumps(entry, indent=2))
        (out / f"speed-{device.type}.md").write_text(report(device.type, entry))
        print(report(device.type, entry))


def report(kind, entry):
    """The markdown tables of one device's measurements."""
    lines = [f"**{kind.upper()}**: {entry['machine']}, torch {entry['torch']}", "",
             "| training | size | deep D | torch.compile | batch | images/s | minutes per epoch (60k images) |",
             "|---|---|---|---|---|---|---|"]
    yes_no = {True: "yes", False: "no"}
    lines += [f"| {t['arch']} | {t['size']} | {yes_no[t['deep_d']]} | {yes_no[t['compiled']]} | {t['batch_size']} | "
              f"{t['images_per_s']:.0f} | {t['epoch_minutes']:.2f} |" for t in entry["training"]]
    lines += ["", f"Generation, the bundled generator ({entry['generator']}):", "",
              "| generate(n) | median ms | images/s |", "|---|---|---|"]
    lines += [f"| {g['n']} | {g['ms']:.2f} | {g['images_per_s']:.0f} |" for g in entry["generation"]]
    if "app_request_64" in entry:
        app = entry["app_request_64"]
        lines += ["", f"App, one request for 64 digits: the handler (validation, generation, 64 upscaled PNGs and "
                      f"the grid PNG encoded and written) median {app['handler_ms']:.1f} ms; with Gradio's gallery "
                      f"postprocessing and file bookkeeping added, median {app['with_gradio_ms']:.1f} ms"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
