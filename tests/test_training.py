"""The recipe and train.py: tiny real training runs (a few hundred images) through train.py's own entry point."""

import dataclasses
import json
import shlex
import shutil

import numpy as np
import pytest
import torch

import train as train_script
from cgan.data import load_mnist, validation_split
from cgan.hub import load_generator
from cgan.recipe import DCGAN_QUICK, RECIPES, check_recipe, custom_recipe
from cgan.device import native_bf16
from cgan.run_state import TrainConfig, load_state, new_run_config
from cgan.gan import Gan
from cgan.training import Trainer, training_data

DATA = None  # the test run's extracted copy of MNIST (conftest's data_dir), shared by every run here


@pytest.fixture(autouse=True)
def shared_data(data_dir):
    global DATA
    DATA = data_dir


def run_train(tmp_path, *extra, out="run"):
    args = ["--limit", "256", "--out", str(tmp_path / out), "--data-dir", str(DATA),
            "--eval-per-digit", "0", "--device", "cpu", *extra]
    train_script.main(args)
    return tmp_path / out


@pytest.fixture
def quick_recipe(monkeypatch):
    """The CPU recipe without the choice of a noise scale at the end, which takes longer than a tiny run."""
    monkeypatch.setitem(RECIPES, ("dcgan", "quick"), dataclasses.replace(DCGAN_QUICK, noise_scales=()))


# --- the recipe -----------------------------------------------------------------------------------------------------

def test_the_default_recipe_is_the_documented_one_on_each_budget():
    quick, full = RECIPES[("dcgan", "quick")], RECIPES[("dcgan", "full")]
    assert (quick.size, quick.d_size, quick.deep_d, quick.output, quick.loss) == ("small", "small", True, "coverage",
                                                                               "nonsaturating")
    assert (quick.r1_gamma, quick.aux_weight, quick.batch_size, quick.epochs, quick.lr_drop_epoch) == (1.0, 0.3, 128,
                                                                                                      12, 9)
    # the quick one, longer, with the classifier at a third of its weight
    assert full == dataclasses.replace(quick, g_fine=16, epochs=72, lr_drop_epoch=54, aux_weight=0.1)
    for recipe in (quick, full):
        assert recipe.validation and recipe.noise_scales == (0.95, 1.0, 1.05, 1.1) and recipe.ema_decay == 0.999
        assert (recipe.ink, recipe.ink_levels, recipe.d_stem) == (253, True, 8)
        check_recipe("dcgan", recipe)
    trainer = Trainer(TrainConfig(device="cpu"))  # no CUDA here: the quick budget
    assert (trainer.config.budget, trainer.config.epochs, trainer.recipe) == ("quick", 12, quick)
    assert trainer.gan.D.image_channels == 8  # the recipe's D, its stem included, is the one trained
    assert (quick.g_fine, full.g_fine) == (8, 16)  # G's stage at 28x28: 16 channels cost the quick budget too much time
    assert trainer.gan.G.fine == 8
    on_full = Trainer(TrainConfig(device="cpu", budget="full"))
    assert on_full.recipe == full and on_full.gan.G.fine == 16
    assert Trainer(TrainConfig(device="cpu", epochs=3)).config.epochs == 3  # --epochs always wins
    assert Trainer(TrainConfig(device="cpu", arch="seed")).recipe.loss == "seed"


def test_the_full_budget_is_one_recipe_on_every_device():
    # Named or not, the full budget trains the same recipe on a CPU as a CUDA GPU picks by default; only how it runs
    # (torch.compile, bf16) follows the device, and the record says so.
    on_gpu = new_run_config(TrainConfig(), "cuda")
    on_cpu = new_run_config(TrainConfig(budget="full"), "cpu")
    assert on_gpu.budget == on_cpu.budget == "full"
    assert on_gpu.recipe == on_cpu.recipe == RECIPES[("dcgan", "full")]
    assert dataclasses.asdict(on_gpu) == dataclasses.asdict(on_cpu) | {"budget": "full"}
    assert new_run_config(TrainConfig(), "cpu").budget == new_run_config(TrainConfig(), "mps").budget == "quick"


def test_the_validation_split_is_held_out_of_training_and_apart_from_the_test_set(test_set, data_dir):
    images, labels = load_mnist(True, data_dir=data_dir)
    train_idx, val_idx = validation_split(labels)
    assert len(val_idx) == 5000 and torch.bincount(labels[val_idx]).tolist() == [500] * 10
    assert len(train_idx) == 55000 and not set(train_idx.tolist()) & set(val_idx.tolist())
    assert torch.equal(validation_split(labels)[1], val_idx)  # the same digits for every run
    # Disjoint from the test set, whose digits are other images altogether.
    test_images, _ = test_set
    held = {bytes(image.numpy()) for image in images[val_idx]}
    assert not held & {bytes(image.numpy()) for image in test_images}


def test_the_trainer_trains_on_the_training_part_only(tmp_path, data_dir):
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path), data_dir=str(data_dir)))
    images, labels, (held_images, held_labels) = training_data(trainer.config)
    assert len(labels) == 55000 and len(held_labels) == 5000
    trained = {bytes(image.numpy()) for image in images}
    assert not trained & {bytes(image.numpy()) for image in held_images}
    limited = Trainer(TrainConfig(device="cpu", out=str(tmp_path), data_dir=str(data_dir), limit=100))
    assert torch.equal(training_data(limited.config)[0], images[:100])  # a trial's images come from the training part


def test_the_trainer_shows_d_real_digits_at_the_recipes_ink_level(tmp_path, quick_recipe, monkeypatch):
    seen = []
    step = Gan.step

    def recording(self, real, labels, z):
        seen.append(real)
        return step(self, real, labels, z)
    monkeypatch.setattr(Gan, "step", recording)
    run_train(tmp_path, "--epochs", "1")
    real = torch.cat(seen)
    # 0 to -1 and 253 to 1, the few brighter pixels clipped to 1: a pixel of 252 sits one step of 253 below 1.
    assert real.min() == -1 and real.max() == 1
    assert torch.isclose(real, torch.tensor(1 - 2 / 253)).any()


@pytest.mark.parametrize("change, message", [
    ({"loss": "seed"}, "loss must be one of hinge, nonsaturating for dcgan"),
    ({"r1_gamma": -1.0}, "r1_gamma must be 0 or more"), ({"aux_weight": float("nan")}, "aux_weight must be 0 or more"),
    ({"lr_drop_epoch": 2.5}, "lr_drop_epoch must be a whole number"), ({"lr_drop_factor": 2}, "lr_drop_factor must"),
    ({"output": "sigmoid"}, "output must be one of clamp, coverage for dcgan"),
    ({"output": "tanh"}, "output must be one of clamp, coverage for dcgan"), ({"size": "huge"}, "size must be one of"),
    ({"batch_size": 0}, "batch_size must be a whole number, 1 or more, got 0"),
    ({"noise_scales": (2.0,)}, "noise_scale must be a number 0.3-1.5, got 2.0"),
    ({"validation": False}, "choosing a noise scale needs the validation split"),
    ({"ink": 256}, "ink must be an integer 1-255, got 256"), ({"d_stem": 2.5}, "d_stem must be an integer 0-256"),
])
def test_a_recipe_with_a_bad_setting_is_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        custom_recipe(**change)


# --- train.py ------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_tiny_run_with_the_defaults_writes_every_artifact_and_records_its_command(tmp_path):
    out = run_train(tmp_path, "--epochs", "2")
    assert (out / "samples" / "epoch_001.png").is_file() and (out / "samples" / "epoch_002.png").is_file()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "diversity_min", "seconds"} <= rows[0].keys()
    for name in ["losses.png", "d_scores.png", "state.pt", "config.json"]:
        assert (out / name).is_file(), name
    folder = out / "generator"
    assert {"config.json", "model.safetensors", "README.md", "samples.png", "training.json"} <= {
        p.name for p in folder.iterdir()}
    training = json.loads((folder / "training.json").read_text())
    args = shlex.split(training["command"])
    assert args[:2] == ["python", "train.py"] and train_script.parse_args(args[2:]).epochs == training["epochs"] == 2
    assert training["recipe"] == json.loads(json.dumps(dataclasses.asdict(DCGAN_QUICK)))
    assert (training["budget"], training["seed"], training["limit"]) == ("quick", 0, 256)
    assert "resumed" not in training and "changes" not in training
    # The noise scale was chosen on the validation split, and the saved model samples at it.
    measured = training["noise_scale_validation"]
    assert set(measured) == {"0.95", "1.0", "1.05", "1.1"}
    best = min(measured, key=lambda scale: measured[scale]["fd_per_digit"])
    assert float(best) == training["noise_scale"] == load_generator(folder).noise_scale
    generator = load_generator(folder)
    assert (generator.arch, generator.size, generator.output, generator.ink) == ("dcgan", "small", "coverage", 253)
    assert generator.generate(3, 4, seed=0).shape == (4, 28, 28)
    card = (folder / "README.md").read_text()
    assert "conditional-gan" in card and "license: mit" in card and training["command"] in card
    assert "anti-aliased" in card and "full ink drawn at a level of each digit's own" in card
    levels = json.loads((folder / "config.json").read_text())["ink_levels"]  # learned from the training digits
    assert set(levels) <= {str(level) for level in range(250, 256)} and sum(levels.values()) == pytest.approx(1)


def test_the_seed_network_still_trains(tmp_path):
    out = run_train(tmp_path, "--arch", "seed", "--epochs", "1")
    assert load_generator(out / "generator").arch == "seed"


def test_fewer_images_than_a_batch_train_as_one_batch(tmp_path, quick_recipe):
    out = run_train(tmp_path, "--limit", "40", "--epochs", "1")
    assert load_generator(out / "generator").generate(1, 2, seed=0).shape == (2, 28, 28)


def test_bad_options_are_refused_before_training(tmp_path, capsys):
    for argv, message in ((["--arch", "big"], "invalid choice: 'big'"), (["--epochs", "0"], "must be a whole number, 1 or more, got 0"),
                          (["--epochs", "x"], "must be a whole number"), (["--seed", "-1"], "must be a whole number, 0 or more, got -1"),
                          (["--budget", "tpu"], "invalid choice: 'tpu'"), (["--limit", "0"], "must be a whole number, 1 or more, got 0"),
                          (["--eval-per-digit", "5"], "must be 0 (skip the evaluation) or 10 or more, got 5")):
        with pytest.raises(SystemExit):
            train_script.main([*argv, "--out", str(tmp_path)])
        assert message in capsys.readouterr().err
    assert not (tmp_path / "state.pt").exists()


def test_help_fits_one_screen_and_every_example_in_it_parses(capsys):
    with pytest.raises(SystemExit):
        train_script.main(["--help"])
    text = capsys.readouterr().out
    assert len(text.splitlines()) <= 60
    examples = [line.split("#")[0].split() for line in text.splitlines() if line.strip().startswith("python train.py")]
    assert len(examples) >= 6
    for example in examples:
        train_script.parse_args(example[2:])


def test_the_examples_that_train_run(tmp_path, quick_recipe, monkeypatch):
    # Each example of --help that trains, on a few images and one epoch more than it asks for at most.
    monkeypatch.chdir(tmp_path)
    quick = ["--limit", "128", "--eval-per-digit", "0", "--data-dir", str(DATA)]
    train_script.main(["--limit", "512", "--epochs", "1", "--eval-per-digit", "0", "--data-dir", str(DATA)])
    train_script.main(["--seed", "1", "--out", "runs/s1", "--epochs", "1", *quick])
    train_script.main(["--out", "runs/s1", "--resume", "--epochs", "2", *quick])
    train_script.main(["--arch", "seed", "--epochs", "1", "--out", "runs/seed", *quick])
    assert (tmp_path / "runs" / "default" / "generator" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "runs" / "s1" / "generator" / "training.json").read_text())["epochs"] == 2


# --- resuming -------------------------------------------------------------------------------------------------------

def test_resume_keeps_the_runs_own_recipe_and_records_more_epochs(tmp_path, quick_recipe, monkeypatch):
    out = run_train(tmp_path, "--epochs", "1", "--seed", "3")
    # The code's recipe changes meanwhile: the run goes on with its own.
    monkeypatch.setitem(RECIPES, ("dcgan", "quick"), dataclasses.replace(DCGAN_QUICK, noise_scales=(), aux_weight=0.5))
    run_train(tmp_path, "--epochs", "2", "--resume")
    assert load_state(out / "state.pt")["config"]["device_type"] == "cpu"  # a resume on another device is recorded
    training = json.loads((out / "generator" / "training.json").read_text())
    assert training["recipe"]["aux_weight"] == DCGAN_QUICK.aux_weight != 0.5
    assert training["seed"] == 3 and training["epochs"] == 2
    assert training["changes"] == [{"epoch": 1, "setting": "epochs", "old": 1, "new": 2}]
    run_train(tmp_path, "--epochs", "3", "--resume")  # a second resume keeps the first one's record
    assert json.loads((out / "generator" / "training.json").read_text())["changes"] == [
        {"epoch": 1, "setting": "epochs", "old": 1, "new": 2}, {"epoch": 2, "setting": "epochs", "old": 2, "new": 3}]
    assert training["command"].endswith("--epochs 1 --seed 3")  # the command that started it; the resume: a time
    assert [r["epoch"] for r in training["resumed"]] == [1] and "command" not in training["resumed"][0]


@pytest.mark.parametrize("argv, message", [(["--seed", "4"], "trained with --seed 0; it cannot go on with seed 4"),
                                           (["--arch", "seed"], "trained with --arch dcgan"),
                                           (["--budget", "full"], "trained with --budget quick"),
                                           (["--limit", "128"], "trained with --limit 256")])
def test_resume_refuses_a_setting_that_would_make_another_run(tmp_path, quick_recipe, argv, message):
    run_train(tmp_path, "--epochs", "1")
    before = (tmp_path / "run" / "state.pt").read_bytes()
    with pytest.raises(SystemExit, match=message):
        train_script.main(["--out", str(tmp_path / "run"), "--resume", "--epochs", "2", *argv,
                           "--data-dir", str(DATA), "--eval-per-digit", "0"])
    assert (tmp_path / "run" / "state.pt").read_bytes() == before


def test_resume_without_a_saved_state_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no .*state.pt to resume from"):
        run_train(tmp_path, "--epochs", "1", "--resume")


def test_a_state_saved_by_an_older_version_is_refused_naming_what_it_lacks(tmp_path, quick_recipe):
    out = run_train(tmp_path, "--epochs", "1")
    state = load_state(out / "state.pt")
    for broken, lacks in (({**state, "config": {k: v for k, v in state["config"].items() if k != "bf16"}}, "bf16"),
                          ({k: v for k, v in state.items() if k != "command"}, "command"),
                          ({**state, "config": {**state["config"], "recipe": {
                              k: v for k, v in state["config"]["recipe"].items() if k != "ink_levels"}}},
                           "its recipe has no ink_levels")):
        torch.save(broken, out / "state.pt")
        with pytest.raises(SystemExit, match=f"state.pt cannot be resumed: it was saved by an older version of "
                                             f"train.py \\(.*{lacks}.*start a new run"):
            run_train(tmp_path, "--epochs", "2", "--resume")
        assert not (out / "samples" / "epoch_002.png").exists()


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                    reason="torch.compile on the CPU builds C++ kernels and needs a compiler")
@pytest.mark.slow
def test_compiled_training_saves_the_same_plain_layout(tmp_path, quick_recipe):
    # --compile is the default on a CUDA GPU; here it runs the same compiled path on the CPU, with the R1 penalty,
    # which has to run D uncompiled (compiled graphs have no double backward).
    out = run_train(tmp_path, "--compile", "--epochs", "1")
    state = torch.load(out / "state.pt", weights_only=True)
    assert not any("_orig_mod" in key for key in state["G"]) and not any("_orig_mod" in key for key in state["D"])
    assert state["config"]["compile"] is True
    assert np.asarray(load_generator(out / "generator").generate(3, 4, seed=0)).shape == (4, 28, 28)


# --- precision ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("capabilities, expected",
                         [({"amx_bf16": True}, True), ({"amx_bf16": False}, False), ({}, False)])
def test_a_cpu_trains_in_bf16_by_default_only_with_amx(monkeypatch, tmp_path, capabilities, expected):
    # With AMX a training step ran 1.5x as fast as in fp32 (docs/training-notes.md); without it, untested: fp32 as before.
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
    assert native_bf16(torch.device("cpu")) is expected
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path / "run"), limit=256))
    assert trainer.config.bf16 is expected and trainer.gan.autocast is expected
    assert Trainer(TrainConfig(device="cpu", out=str(tmp_path / "run"), limit=256, bf16=False)).gan.autocast is False


@pytest.mark.parametrize("bf16", [True, False])
def test_a_bf16_step_runs_the_convolutions_in_bf16_and_keeps_every_weight_in_fp32(tmp_path, bf16):
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path / "run"), limit=256, bf16=bf16))
    outputs = {"G": [], "D": []}
    for name in outputs:
        network = getattr(trainer.gan, name)
        first_conv = next(module for module in network.modules() if isinstance(module, torch.nn.Conv2d))
        first_conv.register_forward_hook(lambda module, args, output, name=name: outputs[name].append(output.dtype))
    real, labels = torch.rand(8, 1, 28, 28) * 2 - 1, torch.arange(8)
    losses = trainer.gan.step(real, labels, torch.randn(8, trainer.gan.G.z_dim))
    # D judges real digits and fakes, R1 (on step 0) runs it in fp32 apart, then it judges the fakes for G's step.
    expected = torch.bfloat16 if bf16 else torch.float32
    assert outputs["G"] == [expected] and outputs["D"] == [expected, expected, torch.float32, expected]
    assert all(torch.isfinite(loss).all() for loss in losses)
    for network in (trainer.gan.G, trainer.gan.D, trainer.gan.C, trainer.gan.G_ema):
        assert all(p.dtype == torch.float32 for p in network.state_dict().values() if p.is_floating_point())


def conv_weights_laid_out_apart(weights):
    """The 4-d weights whose channels-last layout differs from the plain one: more than one input channel and a
    kernel larger than 1x1."""
    return [w for w in weights.values() if w.dim() == 4 and w.shape[1] > 1 and w.shape[2] * w.shape[3] > 1]


@pytest.mark.parametrize("flag", ["--bf16", "--no-bf16"])
def test_bf16_trains_d_channels_last_and_saves_a_plain_generator_either_way(tmp_path, quick_recipe, flag):
    # --bf16 runs on any CPU (emulated where there is no AMX): the precision is recorded with the run, D and the
    # classifier train in oneDNN's layout, and G and its saved EMA keep the plain one that safetensors stores.
    out = run_train(tmp_path, flag, "--epochs", "1")
    bf16 = flag == "--bf16"
    state = torch.load(out / "state.pt", weights_only=True)
    assert state["config"]["bf16"] is bf16
    assert json.loads((out / "generator" / "training.json").read_text())["bf16"] is bf16
    d_weights, c_weights = conv_weights_laid_out_apart(state["D"]), conv_weights_laid_out_apart(state["C"])
    assert d_weights and c_weights
    assert all(w.is_contiguous(memory_format=torch.channels_last) is bf16 for w in d_weights + c_weights)
    assert all(w.is_contiguous() for w in [*state["G"].values(), *state["G_ema"].values()])
    images = np.asarray(load_generator(out / "generator").generate(3, 8, seed=0))
    assert images.shape == (8, 28, 28) and images.max() > images.min()


@pytest.mark.slow
def test_a_bf16_run_resumed_ends_exactly_as_an_uninterrupted_one(tmp_path, quick_recipe):
    whole = run_train(tmp_path, "--bf16", "--epochs", "2", out="whole")
    run_train(tmp_path, "--bf16", "--epochs", "1", out="halves")
    halves = run_train(tmp_path, "--epochs", "2", "--resume", out="halves")
    a, b = (torch.load(run / "state.pt", weights_only=True) for run in (whole, halves))
    for network in ("G", "D", "G_ema"):
        assert all(torch.equal(a[network][key], b[network][key]) for key in a[network]), network


@pytest.mark.slow
def test_a_resumed_run_keeps_its_own_precision_unless_asked_and_records_a_change(tmp_path, quick_recipe):
    out = run_train(tmp_path, "--no-bf16", "--epochs", "1")
    run_train(tmp_path, "--epochs", "2", "--resume")  # on a CPU with AMX the default would be bf16: the run's own wins
    assert load_state(out / "state.pt")["config"]["bf16"] is False
    run_train(tmp_path, "--epochs", "3", "--resume", "--bf16")
    state = load_state(out / "state.pt")
    assert state["config"]["bf16"] is True
    assert {"epoch": 2, "setting": "bf16", "old": False, "new": True} in state["changes"]

