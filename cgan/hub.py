"""Hugging Face I/O: one loader for local folders, Hub repos and the bundled model; saving with a model card;
pushing to the Hub.

    python -m cgan.hub push FOLDER REPO_ID [--private]     # (re)upload a saved model folder
"""

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path

from huggingface_hub import HfApi, ModelCard, ModelCardData

from cgan.generation import ConditionalGenerator

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_GENERATOR = ROOT / "checkpoints" / "generator"
BUNDLED_CLASSIFIER = ROOT / "checkpoints" / "classifier"
MODEL_ENV = "CGAN_MODEL"
EVALUATION_FILE = "evaluation.json"  # written beside the weights by `python -m cgan.evaluate --save`
TRAINING_FILE = "training.json"  # how the weights were trained: config, epochs, minutes


def quiet_stdout():
    """huggingface_hub prints "Loading weights from local directory" on stdout; keep stdout for our output
    (`--json` must print JSON only)."""
    return contextlib.redirect_stdout(io.StringIO())


def resolve_source(source=None):
    """The model to load: `source`, else env CGAN_MODEL, else the bundled checkpoints/generator."""
    return str(source or os.environ.get(MODEL_ENV) or BUNDLED_GENERATOR)


def load_generator(source=None, device="cpu"):
    """A ConditionalGenerator from a local folder or a Hub repo id (see resolve_source), in eval mode.

    Weights must match the architecture exactly (strict=True): a mismatched file is an error, not a half-loaded
    model. The result carries `.source`, where it came from.
    """
    source = resolve_source(source)
    if not Path(source).is_dir() and (Path(source).exists() or source.startswith((".", "/", "~"))):
        raise FileNotFoundError(f"model folder {source} does not exist or is not a folder with config.json "
                                f"and model.safetensors")
    try:
        with quiet_stdout():
            # Onto the CPU first, then .to(device) below: safetensors takes a device name only, not a torch.device.
            model = ConditionalGenerator.from_pretrained(source, strict=True, map_location="cpu")
    except Exception as error:
        if Path(source).is_dir():
            raise  # a local folder with wrong or broken files: the library's own error says what is wrong
        # Not a local folder, so a Hub repo id: unknown, private, or the Hub out of reach.
        raise FileNotFoundError(f"could not load model {source!r}: it is not a local folder, and as a Hub repo id "
                                f"it failed ({type(error).__name__}: {error})") from error
    model.source = source
    return model.to(device).eval()


def read_model_json(source, name):
    """A small JSON file saved beside the weights (local folder or Hub repo), or None when there is none."""
    path = Path(source) / name
    if not path.is_file() and not Path(source).exists():
        try:
            from huggingface_hub import hf_hub_download
            path = Path(hf_hub_download(source, name))
        except Exception:  # no such file in the repo, or the Hub is out of reach: the card just says less
            return None
    return json.loads(path.read_text()) if path.is_file() else None


CARD_BODY = """
# cgan-digits: a conditional GAN that writes any MNIST digit

{samples}

A conditional GAN generator trained on the 60,000 MNIST training images. Ask it for a digit 0-9 and it draws
as many different handwritten versions as you like, reproducibly from a seed.

- Architecture: {arch} — {arch_text}
- Training: {training}{sampling}

## Quality
{quality}

## Usage

```python
from cgan import load_generator  # pip install -r requirements.txt from the cgan-digits code
generator = load_generator("{repo_id}")
images = generator.generate(digit=7, n=16, seed=42)  # uint8 (16, 28, 28), 255 = ink
```

or load the weights directly: `ConditionalGenerator.from_pretrained("{repo_id}")` (config.json + model.safetensors).
"""

ARCH_TEXT = {
    "dcgan": "conditional DCGAN: a label embedding and class-conditional BatchNorm in G; a discriminator that sees "
             "the label as input planes and through a projection head, with spectral norm and a minibatch-std "
             "channel; an EMA of G (the loss and its options: see Training)",
    "seed": "the course report's CGAN: one-hot label concatenated to the noise, discriminator with 10 sigmoid "
            "outputs trained against one-hot targets, SGD",
}


def arch_name(arch, size="small"):
    """How the card and the app name a network: `dcgan` (large), `seed`."""
    return f"`{arch}` ({size})" if arch == "dcgan" else f"`{arch}`"


def quality_text(evaluation):
    if not evaluation:
        return "Not evaluated yet: run `python -m cgan.evaluate --model FOLDER --save`."
    m, real = evaluation["model"], evaluation["real"]
    rows = [("conditional accuracy", "accuracy", "{:.2%}"), ("worst digit's accuracy", "accuracy_min", "{:.2%}"),
            ("Fréchet distance (classifier features)", "fd", "{:.2f}"),
            ("per-digit Fréchet distance (mean)", "fd_per_digit", "{:.2f}"),
            ("precision (k=3)", "precision", "{:.3f}"), ("recall (k=3)", "recall", "{:.3f}")]
    lines = ["| metric | this model | real training digits |", "|---|---|---|"]
    lines += [f"| {name} | {fmt.format(m[key])} | {fmt.format(real[key])} |" for name, key, fmt in rows]
    lines.append(f"\nMeasured by `python -m cgan.evaluate` with {evaluation['n_per_digit']} samples per digit "
                 "against the 10,000 MNIST test images, in the feature space of the project's own MNIST classifier.")
    return "\n".join(lines)


def noise_scale_text(noise_scale):
    """What a noise scale other than 1 means, for the model card and the app's About text."""
    return (f"noise scale {noise_scale:g} (config.json's `noise_scale`): `generate` draws its noise with that standard "
            f"deviation, and the measured quality is at that scale")


def training_summary(training):
    """One line from a training.json: the command, epochs, minutes and device, and its note if it has one."""
    text = (f"`{training['command']}`, {training['epochs']} epochs, {training['minutes']:.1f} minutes on "
            f"{training['device']}")
    return text + (f" ({training['note']})" if training.get("note") else "")


def write_model_card(folder, repo_id=None):
    """README.md for a saved generator folder, from its config, training.json and evaluation.json."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    training = read_model_json(folder, TRAINING_FILE)
    evaluation = read_model_json(folder, EVALUATION_FILE)
    arch = config.get("arch", "dcgan")
    data = ModelCardData(
        library_name="cgan-digits", license="mit", datasets=["mnist"], pipeline_tag="unconditional-image-generation",
        tags=["pytorch", "gan", "conditional-gan", "mnist", "image-generation"],
    )
    training_text = training_summary(training) if training else "unknown"
    scale = config.get("noise_scale", 1)  # folders saved before noise scales have none
    body = CARD_BODY.format(
        samples="![samples: a row per digit](samples.png)" if (folder / "samples.png").exists() else "",
        arch=arch_name(arch, config.get("size", "small")), arch_text=ARCH_TEXT.get(arch, ""), training=training_text,
        quality=quality_text(evaluation),
        sampling="" if scale == 1 else f"\n- Sampling: {noise_scale_text(scale)}",
        repo_id=repo_id or "path/to/model-folder",
    )
    ModelCard(f"---\n{data.to_yaml()}\n---\n{body}").save(folder / "README.md")


def save_model(model, folder, training=None, samples=None, repo_id=None):
    """Save a ConditionalGenerator in Hub layout: config.json, model.safetensors, training.json, samples.png,
    README.md."""
    folder = Path(folder)
    model.save_pretrained(folder)
    if training is not None:
        (folder / TRAINING_FILE).write_text(json.dumps(training, indent=2))
    if samples is not None:
        from cgan.plots import save_grid
        save_grid(samples, folder / "samples.png", nrow=10)
    write_model_card(folder, repo_id=repo_id)
    return folder


class PushError(RuntimeError):
    """The upload failed; the files are still on disk."""


def push_folder(folder, repo_id, private=False, api=None):
    """Create `repo_id` if needed and upload the saved folder with its card. The token comes from HF_TOKEN or the
    cached login (huggingface_hub reads both) and is never printed. Returns the commit URL."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise PushError(f"{folder} is not a saved model folder (no config.json); nothing was uploaded")
    api = api or HfApi()
    retry = f"python -m cgan.hub push {folder} {repo_id}" + (" --private" if private else "")
    try:
        write_model_card(folder, repo_id=repo_id)  # the usage snippet names the repo it is pushed to
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=str(folder),
                                   commit_message="Upload cgan-digits generator")
    except Exception as error:
        raise PushError(f"push to {repo_id} failed ({type(error).__name__}: {error}). Every file is still in "
                        f"{folder}; log in (`hf auth login` or set HF_TOKEN) and retry with: {retry}") from error
    return getattr(commit, "commit_url", str(commit))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cgan.hub", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    push = sub.add_parser("push", help="upload a saved model folder to the Hub")
    push.add_argument("folder")
    push.add_argument("repo_id")
    push.add_argument("--private", action="store_true")
    args = parser.parse_args(argv)
    try:
        print(push_folder(args.folder, args.repo_id, private=args.private))
    except PushError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
