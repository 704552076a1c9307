"""The model that ships in checkpoints/generator is what one plain command of this code makes: its training.json
names a train.py command with nothing but where, which seed, which device and which budget; no setting was changed on
resume; and it trained with today's recipe. A recipe change that is not re-shipped fails here, saying so."""

import dataclasses
import hashlib
import itertools
import json
import shlex
import shutil
from pathlib import Path

from cgan.hub import BUNDLED_GENERATOR, EVALUATION_FILE, ROOT, TRAINING_FILE, WEIGHTS_FILE, write_model_card
from cgan.metrics import present
from cgan.recipe import RECIPES

TRAINING = json.loads((BUNDLED_GENERATOR / TRAINING_FILE).read_text())
PLAIN_OPTIONS = {"--out", "--data-dir", "--mnist-dir", "--seed", "--device", "--budget"}  # where, which seed, ...


def options(command):
    """{option: value} of a `python train.py --option value ...` command; AssertionError for anything else."""
    words = shlex.split(command)
    assert words[:2] == ["python", "train.py"], f"not a train.py command: {command!r}"
    flags, values = words[2::2], words[3::2]
    assert len(flags) == len(values) and all(flag.startswith("--") for flag in flags), \
        f"every option of {command!r} should take one value"
    return dict(zip(flags, values, strict=True))


def test_the_bundled_model_was_made_by_a_plain_train_py_command():
    given = options(TRAINING["command"])
    assert set(given) <= PLAIN_OPTIONS, (f"the bundled model's command sets {sorted(set(given) - PLAIN_OPTIONS)}: it "
                                         f"should name only where, which seed, which device and which budget")
    assert given.get("--budget") == TRAINING["budget"] == "full"
    assert int(given.get("--seed", 0)) == TRAINING["seed"]
    assert TRAINING["limit"] is None, "the bundled model should have trained on all of MNIST's training digits"


def test_no_setting_of_the_bundled_model_was_changed_on_resume():
    assert "changes" not in TRAINING, f"settings were changed on resume: {TRAINING['changes']}"
    assert all(set(resume) == {"epoch", "at"} for resume in TRAINING.get("resumed", []))


def test_the_bundled_model_trained_with_todays_full_recipe_for_all_its_epochs():
    today = dataclasses.asdict(RECIPES[(TRAINING["arch"], TRAINING["budget"])])
    saved = {**TRAINING["recipe"], "betas": tuple(TRAINING["recipe"]["betas"]),
             "noise_scales": tuple(TRAINING["recipe"]["noise_scales"])}
    changed = sorted(key for key in today.keys() | saved.keys() if today.get(key) != saved.get(key))
    assert not changed, (
        f"cgan/recipe.py's {TRAINING['budget']} budget has changed since the bundled model was trained "
        f"({', '.join(f'{key}: {saved.get(key)!r} then, {today.get(key)!r} now' for key in changed)}): re-ship it, "
        f"`{TRAINING['command']}` and its generator/ folder as checkpoints/generator, or revert the change")
    assert TRAINING["epochs"] == today["epochs"]


def test_the_bundled_evaluation_and_card_are_of_these_very_weights(tmp_path):
    weights = hashlib.sha256((BUNDLED_GENERATOR / WEIGHTS_FILE).read_bytes()).hexdigest()
    evaluation = json.loads((BUNDLED_GENERATOR / EVALUATION_FILE).read_text())
    assert evaluation["weights_sha256"] == weights and evaluation["n_per_digit"] == 1000
    # The card is what the code writes from the folder's own files: no figure in it is typed by hand.
    copy = shutil.copytree(BUNDLED_GENERATOR, tmp_path / "generator")
    write_model_card(copy)
    assert (copy / "README.md").read_text() == (BUNDLED_GENERATOR / "README.md").read_text()


def readme_quality_table():
    """The README's quality table as {row label: {column header: cell}}."""
    lines = (ROOT / "README.md").read_text().split("## How good is it", 1)[1].splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = list(itertools.takewhile(lambda line: line.startswith("|"), lines[first:]))
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table]
    header, body = rows[0], rows[2:]
    return {row[0]: dict(zip(header, row, strict=True)) for row in body}


BUNDLED_CAS = ROOT / "benchmarks" / "results" / "evaluation-bundled-cas.json"  # evaluate --cas: what train.py skips


def test_the_readmes_quality_table_shows_the_bundled_models_own_evaluation():
    evaluation = json.loads((BUNDLED_GENERATOR / EVALUATION_FILE).read_text())
    with_cas = json.loads(BUNDLED_CAS.read_text())
    assert with_cas["weights_sha256"] == evaluation["weights_sha256"], \
        f"{BUNDLED_CAS.name} is of other weights: `python -m cgan.evaluate --cas --json` on the bundled model again"
    for side in ("model", "real"):
        evaluation[side]["cas"] = with_cas[side]["cas"]
    table = readme_quality_table()
    bundled = next(header for header in next(iter(table.values())) if header.startswith("bundled model"))
    real = next(header for header in next(iter(table.values())) if header.startswith("real training digits"))
    for metric in present(evaluation["model"], evaluation["real"]):
        row = table[metric.label]
        assert (row[bundled], row[real]) == (metric.show(evaluation["model"][metric.key]),
                                             metric.show(evaluation["real"][metric.key])), \
            f"the README's {metric.label} for the bundled model is not its evaluation.json's"


def test_a_push_of_the_bundled_model_sends_every_file_of_its_folder_as_train_py_wrote_it(tmp_path):
    from huggingface_hub.utils import filter_repo_objects  # how upload_folder applies allow_patterns

    from cgan.hub import push_folder

    class Recording:  # huggingface_hub.HfApi's two calls that push_folder makes, recorded instead of sent
        token = "hf_test"

        def create_repo(self, repo_id, **kwargs):
            pass

        def upload_folder(self, folder_path, allow_patterns, **kwargs):
            files = sorted(path.name for path in Path(folder_path).iterdir())
            self.sent = {name: (Path(folder_path) / name).read_bytes()
                         for name in filter_repo_objects(files, allow_patterns=allow_patterns)}
            return "https://huggingface.co/you/cgan-digits/commit/1"

    copy = shutil.copytree(BUNDLED_GENERATOR, tmp_path / "generator")
    api = Recording()
    push_folder(copy, "you/cgan-digits", api=api)
    bundled = {path.name: path.read_bytes() for path in BUNDLED_GENERATOR.iterdir()}
    assert api.sent.keys() == bundled.keys(), "a file of the bundled model would not be pushed, or one not of it"
    for name, content in api.sent.items():  # the card only gains the repo's name in its usage snippet
        assert content == bundled[name] or name == "README.md"
