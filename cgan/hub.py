"""Hugging Face I/O: one loader for local folders, Hub repos and the bundled model; saving with a model card;
pushing to the Hub.

    python -m cgan.hub push FOLDER REPO_ID [--private]     # (re)upload a saved model folder
"""

import argparse
import hashlib
import inspect
import json
import os
import sys
from pathlib import Path

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData, get_token
from safetensors.torch import load_file

from cgan.generation import STYLE_FILE, ConditionalGenerator, Steering
from cgan.hands import THRESHOLDS_FILE
from cgan.metrics import present

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_GENERATOR = ROOT / "checkpoints" / "generator"
MODEL_ENV = "CGAN_MODEL"
EVALUATION_FILE = "evaluation.json"  # written beside the weights by `python -m cgan.evaluate --save`
WEIGHTS_FILE = "model.safetensors"
TRAINING_FILE = "training.json"  # how the weights were trained: config, epochs, minutes


def resolve_source(source=None):
    """The model to load: `source`, else env CGAN_MODEL, else the bundled checkpoints/generator."""
    return str(source or os.environ.get(MODEL_ENV) or BUNDLED_GENERATOR).strip()


class ModelFileError(ValueError):
    """A model whose files are missing, damaged or do not match each other; the message names the file."""


def split_revision(source):
    """(repo id, revision or None) of a Hub source written `repo@revision`, which pins the model a Space serves."""
    repo, _, revision = source.partition("@")
    return repo, revision or None


def is_local(source):
    """Whether `source` means a local path rather than a Hub repo id (`owner/name`, optionally `@revision`)."""
    path = Path(source).expanduser()
    return path.exists() or source.startswith((".", "/", "~")) or source.count("/") != 1 or "\\" in source


def fetch(source, name):
    """The path of file `name` of a model: in a local folder, or downloaded (cached) from a Hub repo."""
    if is_local(source):
        path = Path(source).expanduser() / name
        if not path.is_file():
            raise FileNotFoundError(f"model folder {source} has no {name}")
        return path
    from huggingface_hub import hf_hub_download
    repo, revision = split_revision(source)
    try:
        return Path(hf_hub_download(repo, name, revision=revision))
    except Exception as error:  # unknown or private repo, no such file, or the Hub out of reach
        raise FileNotFoundError(f"could not load model {source!r}: it is not a local folder, and as a Hub repo id "
                                f"its {name} could not be fetched ({type(error).__name__}: {error})") from None


CONFIG_KEYS = tuple(inspect.signature(ConditionalGenerator).parameters)  # what a saved config.json holds


def load_generator(source=None, device="cpu", style=True):
    """A ConditionalGenerator from a local folder (`~` expanded) or a Hub repo id (`owner/name` or
    `owner/name@revision`; see resolve_source), in eval mode, with `.source` saying where it came from.

    The weights are read from model.safetensors only (never a pickle) and must match config.json exactly: a missing,
    damaged or mismatched file raises FileNotFoundError or ModelFileError naming the file and what is wrong. The style
    directions are read from STYLE_FILE where the model has one (cgan/style.py; else `.style` is None, and it draws
    with slant and weight 0 only); `style=False` leaves them unread (python -m cgan.style, which makes them again
    where they are damaged or of an older version).
    """
    source = resolve_source(source)
    if is_local(source) and not Path(source).expanduser().is_dir():
        raise FileNotFoundError(f"model folder {source} does not exist or is not a folder with config.json "
                                f"and model.safetensors")
    config_path, weights_path = fetch(source, "config.json"), fetch(source, WEIGHTS_FILE)
    try:
        config = json.loads(config_path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{config_path} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{config_path} must hold a JSON object, got {type(config).__name__}")
    missing = [name for name in CONFIG_KEYS if name not in config]
    if missing:
        raise ModelFileError(f"{config_path} was saved by an older version of cgan-digits (it has no "
                             f"{', '.join(missing)}): this version cannot draw with it; train a new model with "
                             f"python train.py")
    try:
        model = ConditionalGenerator(**config)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{config_path} does not describe a generator: {error}") from None
    try:
        weights = load_file(weights_path)
    except Exception as error:  # safetensors' own error: a truncated or corrupted file
        raise ModelFileError(f"{weights_path} is damaged: it cannot be read as safetensors ({error})") from None
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0].strip()
        detail = next((line.strip() for line in str(error).splitlines()[1:] if line.strip()), "")
        raise ModelFileError(f"{weights_path} does not match {config_path}: {first} {detail}") from None
    if style and (style_path := model_file(source, STYLE_FILE)):
        try:
            model.style = Steering.load(style_path, model.z_dim)
        except ValueError as error:
            folder = source if is_local(source) else "FOLDER (the repo downloaded: huggingface-cli download " \
                f"{source} --local-dir FOLDER)"
            raise ModelFileError(f"{error}; make it again with python -m cgan.style {folder}") from None
    model.source = source
    return model.to(device).eval()


def model_file(source, name):
    """The path of a file saved with a model (a local folder's, or a Hub repo's as cached), or None if it has none."""
    try:
        return fetch(source, name)
    except FileNotFoundError:  # no such file, or the Hub out of reach: the card or About text just says less
        return None


def read_model_json(source, name):
    """A small JSON file saved beside the weights (local folder or Hub repo), or None when there is none."""
    path = model_file(source, name)
    return json.loads(path.read_text()) if path else None


def weights_sha256(source):
    """The SHA-256 of a model's model.safetensors, or None when it has none."""
    path = model_file(source, WEIGHTS_FILE)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else None


def read_evaluation(source):
    """The model's evaluation.json if it measured these very weights (its weights_sha256 matches), else None: a
    card or an About text never shows an older evaluation for new weights."""
    evaluation = read_model_json(source, EVALUATION_FILE)
    if evaluation is None or evaluation.get("weights_sha256") != weights_sha256(source):
        return None
    return evaluation


CARD_BODY = """
# cgan-digits: a conditional GAN that writes any MNIST digit

{samples}

A conditional GAN generator trained on the 60,000 MNIST training images. Ask it for a digit 0-9 and it draws
as many different handwritten versions as you like, reproducibly from a seed.

- Architecture: {arch} — {arch_text}
- Output: {output}; full ink {ink}
- Training: {training}{sampling}

## Quality
{quality}

## Usage

```python
from cgan import load_generator  # pip install -r requirements.txt from the cgan-digits code
generator = load_generator("{repo_id}")
images = generator.generate(digit=7, n=16, seed=42)  # uint8 (16, 28, 28), 0 = background, ink up to 255
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


OUTPUT_TEXT = {
    "coverage": "the last layer drawn at 4x the resolution and averaged down, so edges are anti-aliased as MNIST's are",
    "clamp": "the last layer clamped to [-1, 1]",
    "tanh": "tanh",
}


def fine_text(channels):
    """What the card says of G's stage at 28x28 (config.json's `fine`)."""
    return f", after a stage of {channels} channels at 28x28" if channels else ""


def ink_text(config):
    """What the card says of the pixel value full ink is drawn at (config.json's `ink` and `ink_levels`)."""
    levels = config["ink_levels"]
    if not levels:
        return f"drawn as pixel value {config['ink']}"
    shares = ", ".join(f"{level} in {share:.0%}" for level, share in sorted(levels.items()) if share >= 0.005)
    return f"drawn at a level of each digit's own, as in MNIST's training digits: {shares}"


def arch_name(arch, size="small"):
    """How the card and the app name a network: `dcgan` (large), `seed`."""
    return f"`{arch}` ({size})" if arch == "dcgan" else f"`{arch}`"


def quality_text(evaluation):
    if not evaluation:
        return "Not evaluated yet: run `python -m cgan.evaluate --model FOLDER --save`."
    m, real = evaluation["model"], evaluation["real"]
    lines = ["| metric | what it measures | this model | real training digits |", "|---|---|---|---|"]
    lines += [f"| {metric.label} | {metric.description} | {metric.show(m[metric.key])} | "
              f"{metric.show(real[metric.key])} |" for metric in present(m, real)]
    lines.append(f"\nMeasured by `python -m cgan.evaluate` with {evaluation['n_per_digit']} samples per digit "
                 "against the 10,000 MNIST test images, in the feature space of the project's own MNIST classifier.")
    return "\n".join(lines)


def noise_scale_text(noise_scale):
    """What a noise scale other than 1 means, for the model card and the app's About text."""
    return (f"noise scale {noise_scale:g} (config.json's `noise_scale`): `generate` draws its noise with that standard "
            f"deviation, and the measured quality is at that scale")


def training_summary(training):
    """How the model was made, in one line from its training.json: the command, its epochs, the minutes and the
    machine they took (in bf16 where it was)."""
    return (f"`{training['command']}`, {training['epochs']} epochs, {training['minutes']:.0f} minutes on "
            f"{training['device']}{' in bf16' if training['bf16'] else ''}")


TAGS = ("pytorch", "gan", "conditional-gan", "mnist", "image-generation")
def eval_results(evaluation):
    """The evaluation as model-index entries, so that the Hub shows the numbers; None without one."""
    if not evaluation:
        return None
    return [EvalResult(task_type="unconditional-image-generation", dataset_type="mnist", dataset_name="MNIST",
                       dataset_split="test", metric_type=metric.hub_type, metric_name=metric.description,
                       metric_value=round(evaluation["model"][metric.key], 4))
            for metric in present(evaluation["model"]) if metric.hub_type]


def write_model_card(folder, repo_id=None):
    """README.md for a saved generator folder, from its config, training.json and evaluation.json."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    training = read_model_json(folder, TRAINING_FILE)
    evaluation = read_evaluation(folder)
    arch = config["arch"]
    data = ModelCardData(
        library_name="cgan-digits", license="mit", datasets=["mnist"], pipeline_tag="unconditional-image-generation",
        tags=list(TAGS), model_name=repo_id or folder.name, eval_results=eval_results(evaluation),
    )
    training_text = training_summary(training) if training else "unknown"
    scale = config["noise_scale"]
    body = CARD_BODY.format(
        samples="![samples: a row per digit](samples.png)" if (folder / "samples.png").exists() else "",
        arch=arch_name(arch, config["size"]), arch_text=ARCH_TEXT.get(arch, ""), training=training_text,
        output=OUTPUT_TEXT.get(config["output"], "unknown") + fine_text(config["fine"]), ink=ink_text(config),
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


UPLOADED = ["config.json", WEIGHTS_FILE, "README.md", TRAINING_FILE, EVALUATION_FILE, "samples.png", STYLE_FILE,
            THRESHOLDS_FILE]  # a model's own style directions and hands' thresholds travel with it


def redact(text):
    """`text` with every Hugging Face token this process could use replaced by ***."""
    for token in {os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN"), get_token()}:
        if token:
            text = text.replace(token, "***")
    return text


def push_folder(folder, repo_id, private=False, api=None):
    """Create `repo_id` if needed and upload the saved model's files (UPLOADED) with its card; files of an earlier
    upload that this one does not have are removed from the repo. The token comes from HF_TOKEN or the cached login
    (huggingface_hub reads both) and never appears in a message. Returns the commit URL."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise PushError(f"{folder} is not a saved model folder (no config.json); nothing was uploaded")
    retry = f"python -m cgan.hub push {folder} {repo_id}" + (" --private" if private else "")
    api = api or HfApi()
    if not (getattr(api, "token", None) or get_token()):
        raise PushError(f"no Hugging Face token: log in (`hf auth login`) or set HF_TOKEN, then retry with: {retry}. "
                        f"Nothing was uploaded; every file is still in {folder}")
    try:
        write_model_card(folder, repo_id=repo_id)  # the usage snippet names the repo it is pushed to
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=str(folder),
                                   allow_patterns=UPLOADED, delete_patterns="*",
                                   commit_message="Upload cgan-digits generator")
    except Exception as error:
        # from None: the original exception, whose text may hold the token, is not chained to this one.
        raise PushError(redact(f"push to {repo_id} failed ({type(error).__name__}: {error}). Every file is still "
                               f"in {folder}; check the token (`hf auth login` or HF_TOKEN) and the network, and "
                               f"retry with: {retry}")) from None
    return redact(getattr(commit, "commit_url", str(commit)))


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
