"""Saving in Hub layout and what a push would send, checked at the HfApi boundary (the Hub is not reachable)."""

import json

import pytest

from cgan import ConditionalGenerator
from cgan.hub import PushError, push_folder, save_model


class RecordingApi:
    """Stands in for huggingface_hub.HfApi: records what would be sent instead of sending it."""

    def __init__(self, fail_upload=False):
        self.calls = []
        self.fail_upload = fail_upload

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        from pathlib import Path
        files = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
        card = (Path(kwargs["folder_path"]) / "README.md").read_text()
        self.calls.append(("upload_folder", kwargs, files, card))
        if self.fail_upload:
            raise ConnectionError("Hub unreachable")
        return "https://huggingface.co/user/digits/commit/abc"


@pytest.fixture
def saved(tmp_path):
    training = {"command": "python train.py", "arch": "dcgan", "epochs": 3, "seed": 0, "minutes": 1.5,
                "wall_minutes": 2.0, "device": "cpu"}
    return save_model(ConditionalGenerator("dcgan"), tmp_path / "generator", training=training)


def test_push_creates_the_repo_and_uploads_the_folder_with_its_card(saved):
    api = RecordingApi()
    url = push_folder(saved, "user/digits", private=True, api=api)
    assert url.endswith("/commit/abc")
    (create, repo_id, kwargs), (upload, upload_kwargs, files, card) = api.calls
    assert (create, repo_id) == ("create_repo", "user/digits")
    assert kwargs["private"] is True and kwargs["exist_ok"] is True
    assert upload == "upload_folder" and upload_kwargs["repo_id"] == "user/digits"
    assert files == ["README.md", "config.json", "model.safetensors", "training.json"]
    assert 'load_generator("user/digits")' in card
    for tag in ["pytorch", "gan", "conditional-gan", "mnist", "image-generation"]:
        assert f"- {tag}\n" in card
    assert "license: mit" in card and "python train.py" in card


def test_failed_push_keeps_every_file_and_says_how_to_retry(saved):
    before = {p.name: p.read_bytes() for p in saved.iterdir() if p.name != "README.md"}
    with pytest.raises(PushError) as error:
        push_folder(saved, "user/digits", api=RecordingApi(fail_upload=True))
    message = str(error.value)
    assert "Hub unreachable" in message and f"python -m cgan.hub push {saved} user/digits" in message
    assert {p.name: p.read_bytes() for p in saved.iterdir() if p.name != "README.md"} == before


def test_token_never_appears_in_a_failure_message(saved, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_value")

    class LeakyApi(RecordingApi):
        def create_repo(self, repo_id, **kwargs):
            raise PermissionError("401 Unauthorized")

    with pytest.raises(PushError) as error:
        push_folder(saved, "user/digits", api=LeakyApi())
    assert "hf_secret_token_value" not in str(error.value)


def test_push_of_a_folder_that_is_not_a_model_uploads_nothing(tmp_path):
    api = RecordingApi()
    with pytest.raises(PushError, match="not a saved model folder"):
        push_folder(tmp_path, "user/digits", api=api)
    assert api.calls == []


def test_card_shows_evaluation_numbers_when_there_are_some(saved):
    from cgan.hub import write_model_card
    scores = {"accuracy": 0.995, "accuracy_min": 0.99, "fd": 1.0, "fd_per_digit": 2.0, "precision": 0.9, "recall": 0.85}
    (saved / "evaluation.json").write_text(json.dumps({"model": scores, "real": scores, "n_per_digit": 1000}))
    write_model_card(saved)
    card = (saved / "README.md").read_text()
    assert "| conditional accuracy | 99.50% |" in card


def test_card_says_how_the_weights_were_trained_with_any_note(saved):
    from cgan.hub import write_model_card
    assert "- Training: `python train.py`, 3 epochs, 1.5 minutes on cpu\n" in (saved / "README.md").read_text()
    training = json.loads((saved / "training.json").read_text())
    (saved / "training.json").write_text(json.dumps({**training, "note": "epoch 3 of a longer run"}))
    write_model_card(saved)
    assert "1.5 minutes on cpu (epoch 3 of a longer run)" in (saved / "README.md").read_text()


def test_card_names_a_noise_scale_other_than_1(saved, tmp_path):
    assert "Sampling" not in (saved / "README.md").read_text()
    wide = save_model(ConditionalGenerator("dcgan", noise_scale=1.03), tmp_path / "wide")
    assert "- Sampling: noise scale 1.03 (config.json's `noise_scale`)" in (wide / "README.md").read_text()
