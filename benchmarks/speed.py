"""Speed: training throughput per architecture, generation latency, and the app's server-side handling time.

    python benchmarks/speed.py                 # CPU (and the GPU too, when there is one)

Every figure is the median of repeated runs after warm-up. Writes speed.json and speed.md to --out.
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
from cgan.models import ARCHS  # noqa: E402
from cgan.serving import ResultFiles, serve  # noqa: E402
from cgan.training import TrainConfig, Trainer  # noqa: E402
from machine import describe  # noqa: E402


def timed(fn, repeats, sync):
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_throughput(arch, device, images, labels, steps=30, repeats=5):
    trainer = Trainer(TrainConfig(arch=arch, device=str(device), out="/tmp/cgan-speed"))
    batch = trainer.config.batch_size
    rng = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(labels), (batch,), generator=rng)
    real, y = to_model_range(images[idx]).to(device), labels[idx].to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run():
        for _ in range(steps):
            trainer.train_step(real, y)

    run()  # warm-up
    seconds = timed(run, repeats, sync)
    return {"arch": arch, "batch_size": batch, "images_per_s": steps * batch / seconds,
            "epoch_minutes": len(labels) / (steps * batch / seconds) / 60}


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
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    images, labels = load_mnist(True, mnist_dir=args.mnist_dir)
    results = {"torch": torch.__version__, "devices": {}}
    for device in devices:
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        generator = load_generator(device=str(device))
        entry = {"machine": describe(device),
                 "training": [training_throughput(arch, device, images, labels) for arch in ARCHS],
                 "generation": [generation_latency(generator, n, sync, 50 if n < 1024 else 10)
                                for n in (1, 16, 64, 1024)]}
        if device.type == "cpu":
            entry["app_request_64"] = app_handling(generator)
        results["devices"][device.type] = entry
        print(json.dumps(entry, indent=2), flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(results, indent=2))
    lines = []
    for kind, entry in results["devices"].items():
        lines += [f"**{kind.upper()}**: {entry['machine']}, torch {results['torch']}", "",
                  "| training | batch | images/s | minutes per epoch (60k images) |", "|---|---|---|---|"]
        lines += [f"| {t['arch']} | {t['batch_size']} | {t['images_per_s']:.0f} | {t['epoch_minutes']:.2f} |"
                  for t in entry["training"]]
        lines += ["", "| generate(n) | median ms | images/s |", "|---|---|---|"]
        lines += [f"| {g['n']} | {g['ms']:.2f} | {g['images_per_s']:.0f} |" for g in entry["generation"]]
        if "app_request_64" in entry:
            app = entry["app_request_64"]
            lines += ["", f"App, one request for 64 digits: the handler (validation, generation, 64 upscaled PNGs and "
                          f"the grid PNG encoded and written) median {app['handler_ms']:.1f} ms; with Gradio's gallery "
                          f"postprocessing and file bookkeeping added, median {app['with_gradio_ms']:.1f} ms"]
        lines.append("")
    (out / "speed.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
