"""When things go wrong: a training process killed or interrupted, a loss that diverges, a full disk, damaged files."""

import json
import os
import pickle
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import train as train_script
from cgan import ConditionalGenerator, load_generator
from cgan.hub import ModelFileError
from cgan.recipe import custom_recipe
from cgan.serving import load_for_app
from cgan.run_state import TrainConfig, TrainingError, load_state
from cgan.training import Trainer

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--limit", "2048", "--epochs", "3", "--eval-per-digit", "0", "--device", "cpu"]


DATA = None  # the test run's extracted copy of MNIST (conftest's data_dir), shared by every run here


@pytest.fixture(autouse=True)
def shared_data(data_dir):
    global DATA
    DATA = data_dir


def start_training(out, data_dir, *extra, log=None):
    """`python train.py` as a user runs it, on one thread so that two runs give bit-identical weights. Its output (and
    errors) are piped back, or written to the file `log` for a run nobody reads until it ends (a full pipe would
    stall it)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "train.py", *QUICK, "--out", str(out), "--data-dir", str(data_dir),
                             *extra], cwd=ROOT, env=env, stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(process, timeout=300):
    out, _ = process.communicate(timeout=timeout)  # stderr goes to the same pipe
    return process.returncode, out


def wait_for_epoch(out, epoch, process, timeout=120):
    """Wait until the state of `epoch` is saved, then a little longer: into the next epoch."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        metrics = out / "metrics.jsonl"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= epoch and (out / "state.pt").exists():
            time.sleep(0.6)  # an epoch of 16 steps takes seconds: this lands inside epoch epoch + 1
            return
        assert process.poll() is None, finish(process)[1]
        time.sleep(0.05)
    pytest.fail(f"epoch {epoch} was not saved in {timeout} s")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data_dir):
    """The same run left alone: it trains beside the tests that interrupt theirs (a thread each, and the machine has
    two cores), and gives its saved weights once it is done."""
    folder = tmp_path_factory.mktemp("whole")
    with open(folder / "log.txt", "w") as log:
        process = start_training(folder / "run", data_dir, log=log)

    def weights():
        code = process.wait(timeout=300)
        assert code == 0, (folder / "log.txt").read_text()
        return (folder / "run" / "generator" / "model.safetensors").read_bytes()

    yield weights
    process.kill()


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_and_ends_exactly_as_an_uninterrupted_one(tmp_path, data_dir, uninterrupted):
    out = tmp_path / "run"
    process = start_training(out, data_dir)
    wait_for_epoch(out, 1, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert load_state(out / "state.pt")["epoch"] == 1  # the epoch in progress is lost, nothing before it
    assert not (out / "generator").exists() and not list(out.glob("*.tmp"))
    code, log = finish(start_training(out, data_dir, "--resume"))
    assert code == 0, log
    assert "resumed" in log and "after epoch 1" in log
    assert [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert (out / "generator" / "model.safetensors").read_bytes() == uninterrupted()


@pytest.mark.slow
def test_ctrl_c_saves_the_step_in_progress_and_says_how_to_go_on(tmp_path, data_dir, uninterrupted):
    out = tmp_path / "run"
    process = start_training(out, data_dir)
    wait_for_epoch(out, 1, process)
    process.send_signal(signal.SIGINT)
    code, log = finish(process)
    assert code != 0 and "interrupted: stopped in epoch 2 after step" in log
    assert f"Go on with: python train.py --out {out} --resume" in log
    state = load_state(out / "state.pt")
    assert state["epoch"] == 1 and 0 < state["partial"]["step"] < 16  # saved in the middle of epoch 2
    code, log = finish(start_training(out, data_dir, "--resume"))
    assert code == 0, log
    assert f"in epoch 2, after step {state['partial']['step']}" in log
    assert (out / "generator" / "model.safetensors").read_bytes() == uninterrupted()
    # A run stopped and resumed with no setting changed is still its one command; the resume is a time, no change.
    training = json.loads((out / "generator" / "training.json").read_text())
    assert training["command"] == "python train.py " + shlex.join([*QUICK, "--out", str(out), "--data-dir",
                                                                   str(data_dir)])
    assert [sorted(resume) for resume in training["resumed"]] == [["at", "epoch"]]
    assert training["resumed"][0]["epoch"] == 1 and "changes" not in training


def tiny_trainer(tmp_path, **changes):
    recipe = custom_recipe(noise_scales=(), batch_size=64, **changes)
    return Trainer(TrainConfig(device="cpu", out=str(tmp_path / "run"), limit=256, epochs=3, recipe=recipe,
                               data_dir=str(DATA)))


def test_a_loss_that_becomes_nan_stops_the_run_naming_the_epoch_and_step_and_keeps_the_last_good_state(tmp_path):
    trainer = tiny_trainer(tmp_path)
    real_step = trainer.gan.step

    def step(*args):
        if trainer.epoch == 1 and trainer.gan.steps == 6:  # epoch 2, step 3: G's weights blow up
            with torch.no_grad():
                trainer.gan.G.fc.weight.fill_(float("nan"))
        return real_step(*args)

    trainer.gan.step = step
    with pytest.raises(TrainingError, match=r"loss became nan in epoch 2, step 3: training diverged") as error:
        trainer.fit(log=lambda *_: None, progress=False)
    assert f"{trainer.state_path} keeps epoch 1" in str(error.value) and "no generator was saved" in str(error.value)
    state = load_state(trainer.state_path)
    assert state["epoch"] == 1 and torch.isfinite(state["G"]["fc.weight"]).all()
    assert not (tmp_path / "run" / "generator").exists()


def test_an_unwritable_out_or_a_full_disk_is_refused_before_training(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(SystemExit, match="cannot be written"):
        train_script.main(["--out", str(tmp_path / "a-file" / "run"), "--limit", "64", "--eval-per-digit", "0"])

    class Usage:
        free = 10 * 2**20
    monkeypatch.setattr("cgan.run_state.shutil.disk_usage", lambda path: Usage)
    with pytest.raises(SystemExit, match="only 10.0 MB free on its disk; a run needs at least 64 MB"):
        train_script.main(["--out", str(tmp_path / "run"), "--limit", "64", "--eval-per-digit", "0"])
    assert not (tmp_path / "run" / "state.pt").exists()


def test_a_disk_that_fills_up_mid_run_leaves_the_last_epochs_state_intact(tmp_path, monkeypatch):
    trainer = tiny_trainer(tmp_path)
    real_save = torch.save

    def save(obj, path, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == 2:
            Path(path).write_bytes(b"half a state")  # the write begins, then the disk is full
            raise OSError(28, "No space left on device")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(TrainingError, match="No space left on device") as error:
        trainer.fit(log=lambda *_: None, progress=False)
    assert f"{trainer.state_path} still holds epoch 1, intact" in str(error.value)
    assert load_state(trainer.state_path)["epoch"] == 1 and not list((tmp_path / "run").glob("*.tmp"))


# --- damaged files ----------------------------------------------------------------------------------------------------

def change_config(folder, **changes):
    """The folder's config.json with `changes`: a complete config, so that only the change can be what is wrong."""
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


@pytest.fixture
def folder(tmp_path):
    ConditionalGenerator("dcgan", "coverage", 255).save_pretrained(tmp_path / "model")
    return tmp_path / "model"


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:1000]),
     r"model.safetensors is damaged: it cannot be read as safetensors"),
    (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 64), r"model.safetensors is damaged"),
    (lambda f: change_config(f, size="large"),
     r"model.safetensors does not match .*config.json: Error\(s\) in loading state_dict"),
    (lambda f: change_config(f, arch="seed", output="tanh"), r"model.safetensors does not match .*config.json"),
    (lambda f: change_config(f, arch="seed"),
     r"config.json does not describe a generator: the seed architecture keeps the report's generator, whose output "
     r"is tanh, got 'coverage'"),
    (lambda f: change_config(f, size="huge"),
     r"config.json does not describe a generator: size must be one of small, large, got 'huge'"),
    (lambda f: change_config(f, colour="red"),
     r"config.json does not describe a generator: .*colour"),
    (lambda f: (f / "config.json").write_text("{not json"), r"config.json is not valid JSON"),
    (lambda f: (f / "model.safetensors").unlink(), r"model folder .* has no model.safetensors"),
    (lambda f: (f / "config.json").unlink(), r"model folder .* has no config.json"),
])
def test_a_damaged_model_folder_is_an_error_naming_the_file(folder, damage, message):
    damage(folder)
    with pytest.raises((ModelFileError, FileNotFoundError), match=message):
        load_generator(folder)


def test_weights_are_read_from_safetensors_only(folder):
    # a pickle beside them
    torch.save(ConditionalGenerator("dcgan", "coverage", 255).state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        load_generator(folder)


def test_the_app_falls_back_to_the_bundled_model_with_a_log_line_naming_the_damage(folder, caplog):
    (folder / "model.safetensors").write_bytes(b"garbage")
    generator = load_for_app(str(folder))
    assert Path(generator.source).resolve() == (ROOT / "checkpoints" / "generator").resolve()
    assert "model.safetensors is damaged" in caplog.text and "falling back to the bundled" in caplog.text


def test_a_tilde_path_is_expanded(folder, monkeypatch):
    monkeypatch.setenv("HOME", str(folder.parent))
    assert load_generator("~/model").arch == "dcgan"


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_state_is_read_as_weights_only_so_a_pickle_with_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.pt").write_bytes(pickle.dumps({"config": {}, "epoch": 1, "x": Exploit()}))
    with pytest.raises(SystemExit, match="state.pt cannot be read .*damaged or not a state saved by train.py"):
        train_script.main(["--out", str(run), "--resume", "--eval-per-digit", "0"])
    assert not (tmp_path / "pwned").exists()


def test_resuming_a_damaged_state_or_one_of_other_networks_is_an_error_naming_the_file(tmp_path):
    trainer = tiny_trainer(tmp_path)
    trainer.config.epochs = 1
    trainer.fit(log=lambda *_: None, progress=False)
    state = load_state(trainer.state_path)
    recipe = trainer.recipe  # another size of G, with the same layers
    state["G"] = ConditionalGenerator("dcgan", recipe.output, recipe.ink, "large", fine=recipe.g_fine).net.state_dict()
    torch.save(state, trainer.state_path)
    with pytest.raises(SystemExit, match=r"state.pt does not match the networks of its own config \(RuntimeError: "
                       r"Error\(s\) in loading state_dict for DCGANGenerator: size mismatch for fc.weight: copying a "
                       r"param with shape torch.Size\(\[6272, 96\]\) from checkpoint, the shape in current model is "
                       r"torch.Size\(\[3136, 96\]\).\); it is damaged or was written by other code$"):
        train_script.main(["--out", str(tmp_path / "run"), "--resume", "--epochs", "2", "--eval-per-digit", "0",
                           "--data-dir", str(DATA)])
    trainer.state_path.write_bytes(trainer.state_path.read_bytes()[:5000])  # truncated
    with pytest.raises(SystemExit, match=r"state.pt cannot be read \(\w+Error: [^)]+\): it is damaged or not a state "
                       r"saved by train.py; start a new run \(another --out\)$") as refused:
        train_script.main(["--out", str(tmp_path / "run"), "--resume", "--eval-per-digit", "0"])
    assert "Error: None)" not in str(refused.value)
