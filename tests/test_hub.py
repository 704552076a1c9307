"""Saving in Hub layout, loading from a Hub repo, and what a push would send, checked at the huggingface_hub API
boundary (the suite runs with HF_HUB_OFFLINE=1, set in conftest before huggingface_hub is imported)."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import cgan.hub
from cgan import ConditionalGenerator, load_generator
from cgan.hub import UPLOADED, ModelFileError, PushError, push_folder, save_model, write_model_card
from cgan.serving import describe

TOKEN = "hf_secret_token_value_0123456789"


class RecordingApi:
    """Stands in for huggingface_hub.HfApi: records what would be sent instead of sending it."""

    def __init__(self, fail_with=None, token=TOKEN):
        self.calls = []
        self.fail_with = fail_with
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        files = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
        card = (Path(kwargs["folder_path"]) / "README.md").read_text()
        self.calls.append(("upload_folder", kwargs, files, card))
        if self.fail_with:
            raise self.fail_with
        return "https://huggingface.co/user/digits/commit/abc"


@pytest.fixture
def saved(tmp_path):
    training = {"command": "python train.py", "arch": "dcgan", "epochs": 3, "seed": 0, "minutes": 1.6,
                "wall_minutes": 2.0, "device": "AMD EPYC, 2 threads", "bf16": False}
    folder = save_model(ConditionalGenerator("dcgan", "coverage", 255), tmp_path / "generator", training=training)
    (folder / "notes.txt").write_text("a file of the user's, not of the model")
    return folder


def card_metadata(card):
    return yaml.safe_load(card.split("---")[1])


def test_the_suite_never_reaches_the_network():
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    from huggingface_hub import constants
    assert constants.HF_HUB_OFFLINE


def test_push_uploads_the_models_files_only_and_replaces_an_older_upload(saved):
    api = RecordingApi()
    url = push_folder(saved, "user/digits", private=True, api=api)
    assert url.endswith("/commit/abc")
    (create, repo_id, kwargs), (upload, upload_kwargs, files, card) = api.calls
    assert (create, repo_id, kwargs["private"], kwargs["exist_ok"]) == ("create_repo", "user/digits", True, True)
    assert upload_kwargs["repo_id"] == "user/digits" and upload_kwargs["folder_path"] == str(saved)
    assert upload_kwargs["allow_patterns"] == UPLOADED and "notes.txt" not in UPLOADED  # the user's file stays home
    assert upload_kwargs["delete_patterns"] == "*"  # the repo ends up with this upload's files only
    assert 'load_generator("user/digits")' in card


def test_the_card_keeps_the_mixins_tags_and_carries_the_evaluation_as_model_index(saved):
    scores = {"accuracy": 0.995, "accuracy_min": 0.99, "fd": 1.0, "fd_per_digit": 2.0, "precision": 0.9,
              "recall": 0.85, "c2st": 0.7, "pixel_tv": 0.01}
    evaluation = {"model": scores, "real": scores, "n_per_digit": 1000,
                  "weights_sha256": cgan.hub.weights_sha256(saved)}
    (saved / "evaluation.json").write_text(json.dumps(evaluation))
    push_folder(saved, "user/digits", api=RecordingApi())
    card = (saved / "README.md").read_text()
    metadata = card_metadata(card)
    assert {"pytorch", "gan", "conditional-gan", "mnist", "image-generation"} <= set(metadata["tags"])
    assert metadata["license"] == "mit" and metadata["library_name"] == "cgan-digits"
    (index,) = metadata["model-index"]
    assert index["name"] == "user/digits"
    metrics = {m["name"]: m["value"] for m in index["results"][0]["metrics"]}
    assert metrics["conditional accuracy: the asked digit is drawn (the project's MNIST classifier)"] == 0.995
    assert metrics["recall (k = 3): real digits inside the samples' manifold"] == 0.85 and len(metrics) == 6
    assert ("| accuracy | conditional accuracy: the asked digit is drawn (the project's MNIST classifier) | 99.50% |"
            in card)
    assert "| pixel TV | total-variation distance between the pixel-value histograms | 0.010 |" in card


def test_an_evaluation_of_other_weights_is_not_shown(saved):
    scores = {"accuracy": 0.995, "accuracy_min": 0.99, "fd": 1.0, "fd_per_digit": 2.0, "precision": 0.9, "recall": 0.85}
    (saved / "evaluation.json").write_text(json.dumps({"model": scores, "real": scores, "n_per_digit": 1000,
                                                       "weights_sha256": "0" * 64}))
    write_model_card(saved)
    card = (saved / "README.md").read_text()
    assert "99.50%" not in card and "model-index" not in card and "Not evaluated yet" in card
    generator = load_generator(saved)
    assert "not measured for these weights" in describe(generator) and "99.50%" not in describe(generator)


@pytest.mark.parametrize("failure", [ConnectionError("Hub unreachable"), PermissionError(f"401: bad token {TOKEN}")])
def test_a_failed_push_keeps_every_file_says_how_to_retry_and_never_shows_the_token(saved, monkeypatch, failure):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    before = {p.name: p.read_bytes() for p in saved.iterdir() if p.name != "README.md"}
    with pytest.raises(PushError) as error:
        push_folder(saved, "user/digits", api=RecordingApi(fail_with=failure))
    message = str(error.value)
    assert type(failure).__name__ in message and f"python -m cgan.hub push {saved} user/digits" in message
    assert TOKEN not in message and error.value.__suppress_context__  # no traceback shows the original either
    assert {p.name: p.read_bytes() for p in saved.iterdir() if p.name != "README.md"} == before
    assert TOKEN not in (saved / "README.md").read_text()


def test_the_token_never_reaches_the_shell_either(saved, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(cgan.hub, "HfApi", lambda: RecordingApi(fail_with=PermissionError(f"401 for {TOKEN}")))
    with pytest.raises(SystemExit) as exit_:
        cgan.hub.main(["push", str(saved), "user/digits"])
    assert TOKEN not in str(exit_.value) + capsys.readouterr().out and "401 for ***" in str(exit_.value)


def test_a_push_without_a_token_says_how_to_log_in_and_sends_nothing(saved, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(cgan.hub, "get_token", lambda: None)
    api = RecordingApi(token=None)
    with pytest.raises(PushError, match=r"no Hugging Face token: log in \(`hf auth login`\) or set HF_TOKEN"):
        push_folder(saved, "user/digits", api=api)
    assert api.calls == []


def test_push_of_a_folder_that_is_not_a_model_uploads_nothing(tmp_path):
    api = RecordingApi()
    with pytest.raises(PushError, match="not a saved model folder"):
        push_folder(tmp_path, "user/digits", api=api)
    assert api.calls == []


def test_card_says_how_the_weights_were_made_in_one_line(saved):
    assert "- Training: `python train.py`, 3 epochs, 2 minutes on AMD EPYC, 2 threads\n" in (
        saved / "README.md").read_text()
    training = json.loads((saved / "training.json").read_text())
    (saved / "training.json").write_text(json.dumps({**training, "bf16": True}))
    write_model_card(saved)
    assert "- Training: `python train.py`, 3 epochs, 2 minutes on AMD EPYC, 2 threads in bf16\n" in (
        saved / "README.md").read_text()


def test_card_names_a_noise_scale_other_than_1(saved, tmp_path):
    assert "Sampling" not in (saved / "README.md").read_text()
    wide = save_model(ConditionalGenerator("dcgan", "coverage", 255, noise_scale=1.03), tmp_path / "wide")
    assert "- Sampling: noise scale 1.03 (config.json's `noise_scale`)" in (wide / "README.md").read_text()


# --- loading from the Hub ---------------------------------------------------------------------------------------------

@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A stand-in for hf_hub_download: two revisions of one repo, served from local folders, and every call
    recorded."""
    revisions = {"main": tmp_path / "main", "v1": tmp_path / "v1"}
    ConditionalGenerator("dcgan", "coverage", 255).save_pretrained(revisions["main"])
    ConditionalGenerator("dcgan", "coverage", 255, noise_scale=0.8).save_pretrained(revisions["v1"])
    calls = []

    def download(repo_id, filename, revision=None, **kwargs):
        calls.append((repo_id, filename, revision))
        if repo_id != "user/digits":
            raise FileNotFoundError(f"404: {repo_id}")
        path = revisions[revision or "main"] / filename
        if not path.exists():
            raise FileNotFoundError(f"404: {filename}")
        copy = tmp_path / "cache" / (revision or "main") / filename
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy)
        return str(copy)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", download)
    return calls


def test_a_hub_repo_loads_and_a_revision_pins_the_model(hub, monkeypatch):
    assert load_generator("user/digits").noise_scale == 1.0
    pinned = load_generator("user/digits@v1")
    assert pinned.noise_scale == 0.8 and pinned.source == "user/digits@v1"
    assert ("user/digits", "model.safetensors", "v1") in hub
    monkeypatch.setenv("CGAN_MODEL", "user/digits@v1")  # a Space pins the model it serves the same way
    assert load_generator().noise_scale == 0.8


def test_an_unloadable_hub_repo_is_a_clear_error():
    # Offline (conftest): the Hub cannot be asked, on any machine.
    with pytest.raises(FileNotFoundError, match="could not load model 'nobody/no-such-cgan'"):
        load_generator("nobody/no-such-cgan")


@pytest.mark.parametrize("ink", [255, 253])
def test_save_and_load_round_trip_in_hub_layout(tmp_path, ink):
    generator = ConditionalGenerator("dcgan", "clamp", ink)
    with torch.no_grad():  # every pixel's last pre-activation at 1.5: the clamp draws full ink (tanh would give 243)
        generator.net.to_pixels.weight.zero_()
        generator.net.to_pixels.bias.fill_(1.5)
    save_model(generator, tmp_path / "model")
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in (tmp_path / "model").iterdir()}
    loaded = load_generator(tmp_path / "model")
    assert (loaded.output, loaded.ink) == ("clamp", ink)
    images = loaded.generate(4, 8, seed=9)
    assert np.array_equal(images, generator.generate(4, 8, seed=9))
    assert (images == ink).all()


@pytest.mark.parametrize("key", ["ink", "ink_levels", "fine", "output", "size", "noise_scale"])
def test_a_config_saved_by_an_older_version_is_named_with_what_it_lacks(tmp_path, key):
    save_model(ConditionalGenerator("dcgan", "coverage", 255), tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    (tmp_path / "model" / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != key}))
    with pytest.raises(ModelFileError, match=f"config.json was saved by an older version of cgan-digits "
                                             f"\\(it has no {key}\\).*python train.py"):
        load_generator(tmp_path / "model")


def test_a_dcgan_drawn_with_tanh_as_earlier_versions_saved_it_is_refused_by_name(tmp_path):
    save_model(ConditionalGenerator("dcgan", "coverage", 255), tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    (tmp_path / "model" / "config.json").write_text(json.dumps({**config, "output": "tanh"}))
    with pytest.raises(ModelFileError, match="config.json does not describe a generator: output must be one of clamp, "
                                             "coverage for dcgan, got 'tanh'"):
        load_generator(tmp_path / "model")


def test_a_bad_ink_in_a_config_is_named(tmp_path):
    save_model(ConditionalGenerator("dcgan", "coverage", 255), tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    (tmp_path / "model" / "config.json").write_text(json.dumps({**config, "ink": 300}))
    with pytest.raises(ValueError, match="ink must be an integer 1-255, got 300"):
        load_generator(tmp_path / "model")


def test_the_card_says_at_which_levels_full_ink_is_drawn(tmp_path):
    plain = save_model(ConditionalGenerator("dcgan", "coverage", 253), tmp_path / "plain")
    assert "full ink drawn as pixel value 253" in (plain / "README.md").read_text()
    levels = {252: 0.22, 253: 0.43, 254: 0.28, 255: 0.05, 250: 0.002}
    inked = save_model(ConditionalGenerator("dcgan", "coverage", 253, ink_levels=levels),
                       tmp_path / "inked")
    assert ("full ink drawn at a level of each digit's own, as in MNIST's training digits: 252 in 22%, 253 in 43%, "
            "254 in 28%, 255 in 5%") in (inked / "README.md").read_text()


def test_a_g_with_a_fine_stage_round_trips_and_its_card_says_so(tmp_path):
    generator = ConditionalGenerator("dcgan", "coverage", 253, fine=16)
    folder = save_model(generator, tmp_path / "model")
    assert json.loads((folder / "config.json").read_text())["fine"] == 16
    loaded = load_generator(folder)
    assert loaded.fine == 16 and loaded.with_noise_scale(0.9).fine == 16
    assert np.array_equal(loaded.generate(3, 8, seed=4), generator.generate(3, 8, seed=4))
    assert "after a stage of 16 channels at 28x28" in (folder / "README.md").read_text()
    plain = save_model(ConditionalGenerator("dcgan", "coverage", 255), tmp_path / "plain")
    assert load_generator(plain).fine == 0 and "28x28" not in (plain / "README.md").read_text()


def test_push_sends_the_style_directions_with_the_model(saved):
    from huggingface_hub.utils import filter_repo_objects  # how upload_folder picks the files its patterns allow

    from cgan.generation import STYLE_FILE
    shutil.copy(cgan.hub.BUNDLED_GENERATOR / STYLE_FILE, saved / STYLE_FILE)
    api = RecordingApi()
    push_folder(saved, "user/digits", api=api)
    (_, upload_kwargs, files, _), = api.calls[1:]
    sent = set(filter_repo_objects(files, allow_patterns=upload_kwargs["allow_patterns"]))
    assert STYLE_FILE in sent and "config.json" in sent and "notes.txt" not in sent
