"""Tiny real training runs (a few hundred images) through train.py's own entry point."""

import json
import shutil

import numpy as np
import pytest
import torch

import train as train_script
from cgan.hub import load_generator
import cgan.training
from cgan.training import R1_EVERY, RECIPES, TrainConfig, Trainer, r1_penalty, refresh_batchnorm_stats, update_ema


def run_train(tmp_path, *extra, out="run"):
    args = ["--limit", "256", "--batch-size", "64", "--out", str(tmp_path / out), "--data-dir", str(tmp_path / "data"),
            "--eval-per-digit", "0", "--device", "cpu", *extra]
    train_script.main(args)
    return tmp_path / out


@pytest.mark.parametrize("arch, size, deep_d", [("dcgan", "small", "--no-deep-d"), ("dcgan", "small", "--deep-d"),
                                                ("dcgan", "large", "--deep-d"), ("seed", "small", "--no-deep-d")])
def test_tiny_run_writes_every_artifact(tmp_path, arch, size, deep_d):
    out = run_train(tmp_path, "--arch", arch, "--size", size, deep_d, "--epochs", "2")
    assert (out / "samples" / "epoch_001.png").is_file() and (out / "samples" / "epoch_002.png").is_file()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "diversity_min", "seconds"} <= rows[0].keys()
    for name in ["losses.png", "d_scores.png", "state.pt"]:
        assert (out / name).is_file(), name
    folder = out / "generator"
    assert {"config.json", "model.safetensors", "README.md", "samples.png", "training.json"} <= {
        p.name for p in folder.iterdir()}
    card = (folder / "README.md").read_text()
    assert "conditional-gan" in card and "license: mit" in card and "generate(digit=7" in card
    training = json.loads((folder / "training.json").read_text())
    assert (training["size"], training["deep_d"]) == (size, deep_d == "--deep-d")
    generator = load_generator(folder)
    assert (generator.arch, generator.size) == (arch, size)
    assert generator.generate(3, 4, seed=0).shape == (4, 28, 28)


@pytest.fixture
def one_thread():
    """Multi-threaded CPU kernels may sum in a different order from run to run; one thread makes runs bit-exact."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_resume_after_an_interruption_continues_where_it_stopped(tmp_path, monkeypatch, one_thread):
    # Reference: three epochs without a stop.
    whole = run_train(tmp_path, "--epochs", "3", out="whole")

    # The same run, stopped in the middle of epoch 2 (after epoch 1's state was saved) ...
    calls = {"n": 0}
    real_step = Trainer.train_step

    def step_then_stop(self, *args):
        calls["n"] += 1
        if calls["n"] == 6:  # 4 steps per epoch: the 2nd step of epoch 2
            raise KeyboardInterrupt
        return real_step(self, *args)

    monkeypatch.setattr(Trainer, "train_step", step_then_stop)
    with pytest.raises(SystemExit, match="--resume"):
        run_train(tmp_path, "--epochs", "3", out="stopped")
    stopped = tmp_path / "stopped"
    assert torch.load(stopped / "state.pt", weights_only=True)["epoch"] == 1
    assert len((stopped / "metrics.jsonl").read_text().splitlines()) == 1
    monkeypatch.setattr(Trainer, "train_step", real_step)

    # ... and resumed: it redoes only epoch 2 and ends with exactly the weights of the uninterrupted run.
    run_train(tmp_path, "--epochs", "3", "--resume", out="stopped")
    assert [json.loads(line)["epoch"] for line in (stopped / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    a, b = load_generator(whole / "generator"), load_generator(stopped / "generator")
    assert np.array_equal(a.generate(5, 8, seed=1), b.generate(5, 8, seed=1))


def test_resume_without_a_saved_state_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no .*state.pt to resume from"):
        run_train(tmp_path, "--epochs", "1", "--resume")


def test_bad_options_are_refused_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_script.main(["--arch", "big", "--out", str(tmp_path)])
    assert "invalid choice: 'big'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_script.main(["--epochs", "0", "--out", str(tmp_path)])
    assert "must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_script.main(["--size", "huge", "--out", str(tmp_path)])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="the seed architecture comes in one size"):
        train_script.main(["--arch", "seed", "--size", "large", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="deep_d and d_size are for dcgan"):
        train_script.main(["--arch", "seed", "--deep-d", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="deep_d and d_size are for dcgan"):
        train_script.main(["--arch", "seed", "--d-size", "large", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--loss is for dcgan, got 'hinge'"):
        train_script.main(["--arch", "seed", "--loss", "hinge", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="the R1 penalty is for dcgan"):
        train_script.main(["--arch", "seed", "--r1", "1", "--out", str(tmp_path)])
    for bad in ("-1", "nan", "inf"):
        with pytest.raises(SystemExit):
            train_script.main(["--r1", bad, "--out", str(tmp_path)])
        assert "must be 0 or a positive number" in capsys.readouterr().err
    for bad in (-1.0, float("nan"), float("inf")):  # the same check for code that builds a TrainConfig itself
        with pytest.raises(ValueError, match="r1_gamma must be 0 or more"):
            Trainer(TrainConfig(r1_gamma=bad, out=str(tmp_path)))
    with pytest.raises(ValueError, match="loss must be one of hinge, nonsaturating for dcgan, got 'seed'"):
        Trainer(TrainConfig(loss="seed", out=str(tmp_path)))
    assert not (tmp_path / "state.pt").exists()


def test_trainer_warns_when_a_digit_collapses(tmp_path):
    trainer = Trainer(TrainConfig(out=str(tmp_path), limit=128, device="cpu"))
    from cgan.data import load_mnist
    from cgan.diversity import DiversityProbe
    images, labels = load_mnist(True, data_dir=tmp_path / "data")
    probe = DiversityProbe(images[:2000], labels[:2000])
    # A generator that ignores its noise draws every digit one way: the probe must see it.
    trainer.G_ema.fc.weight.data[:, : trainer.G.z_dim] = 0
    ratios = probe.measure(trainer.G_ema, torch.device("cpu"))
    assert probe.collapsed(ratios) and max(ratios) < 0.01


def test_a_falling_diversity_signal_is_flagged():
    from cgan.diversity import DiversityProbe
    history = [{"diversity_min": 0.6}, {"diversity_min": 0.9}]
    assert DiversityProbe.falling(history, [0.6] * 10)
    assert not DiversityProbe.falling(history, [0.8] * 10)
    assert not DiversityProbe.falling([], [0.1] * 10)


def test_resume_keeps_the_runs_own_settings_and_can_extend_it(tmp_path):
    run_train(tmp_path, "--arch", "seed", "--epochs", "1", out="run")
    run_train(tmp_path, "--epochs", "2", "--resume", out="run")  # no --arch: the run's own is kept
    assert load_generator(tmp_path / "run" / "generator").arch == "seed"
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    run_train(tmp_path, "--size", "large", "--no-deep-d", "--epochs", "1", out="large")
    run_train(tmp_path, "--epochs", "2", "--resume", out="large")  # a resumed run keeps its size and D too
    assert load_generator(tmp_path / "large" / "generator").size == "large"
    assert json.loads((tmp_path / "large" / "config.json").read_text())["deep_d"] is False


def test_a_state_saved_before_sizes_existed_resumes_as_small(tmp_path):
    run_train(tmp_path, "--epochs", "1", out="old")
    state = torch.load(tmp_path / "old" / "state.pt", weights_only=True)
    del state["config"]["size"], state["config"]["deep_d"]
    torch.save(state, tmp_path / "old" / "state.pt")
    run_train(tmp_path, "--epochs", "2", "--resume", out="old")
    assert load_generator(tmp_path / "old" / "generator").size == "small"
    assert json.loads((tmp_path / "old" / "config.json").read_text())["deep_d"] is False


def test_the_r1_penalty_is_the_mean_squared_input_gradient_and_trains_d():
    class Linear(torch.nn.Module):  # D(x) = <w, x>: the input gradient is w for every image
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(1, 1, 28, 28))

        def forward(self, images, labels):
            return (images * self.w).sum(dim=(1, 2, 3))

    d, real = Linear(), torch.rand(5, 1, 28, 28)
    penalty = r1_penalty(d, real, torch.arange(5))
    torch.testing.assert_close(penalty, d.w.square().sum())
    penalty.backward()  # differentiable in D's weights: d||w||^2/dw = 2w
    torch.testing.assert_close(d.w.grad, 2 * d.w.detach())

    class Quadratic(torch.nn.Module):  # D(x) = ||x||^2 / 2: the gradient is x itself, so a mean over images
        def forward(self, images, labels):
            return images.square().sum(dim=(1, 2, 3)) / 2

    torch.testing.assert_close(r1_penalty(Quadratic(), real, None), real.square().sum(dim=(1, 2, 3)).mean())


def test_a_larger_d_the_nonsaturating_loss_and_r1_are_applied_recorded_and_kept_on_resume(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cgan.training, "r1_penalty", lambda *args: calls.append(1) or r1_penalty(*args))
    out = run_train(tmp_path, "--d-size", "large", "--loss", "nonsaturating", "--r1", "1", "--epochs", "1")
    assert len(calls) == 1  # 4 steps: the penalty on every R1_EVERY-th D step
    assert R1_EVERY == 4
    training = json.loads((out / "generator" / "training.json").read_text())
    assert {key: training[key] for key in ("size", "d_size", "deep_d", "loss", "r1_gamma")} == {
        "size": "small", "d_size": "large", "deep_d": True, "loss": "nonsaturating", "r1_gamma": 1.0}
    state = torch.load(out / "state.pt", weights_only=True)
    assert state["D"]["input_conv.parametrizations.weight.original"].shape[0] == 64  # the large D, the small G
    assert load_generator(out / "generator").size == "small"
    run_train(tmp_path, "--epochs", "2", "--resume")  # no options: the run's own are kept
    config = json.loads((out / "config.json").read_text())
    assert (config["d_size"], config["loss"], config["r1_gamma"]) == ("large", "nonsaturating", 1.0)
    assert len(calls) == 2


def test_the_learning_rate_drops_after_the_given_epoch_and_a_resume_may_add_a_drop_and_the_noise_scale_is_saved(tmp_path, monkeypatch):
    rates = []  # (epoch about to train, G's rate, D's rate), as each epoch starts
    real_set = Trainer.set_learning_rates

    def spy(trainer):
        real_set(trainer)
        rates.append((trainer.epoch + 1, trainer.opt_G.param_groups[0]["lr"], trainer.opt_D.param_groups[0]["lr"]))
    monkeypatch.setattr(Trainer, "set_learning_rates", spy)
    lr, ratio = RECIPES["dcgan"].lr, RECIPES["dcgan"].d_lr_ratio
    out = run_train(tmp_path, "--epochs", "3", "--lr-drop", "2", "--lr-drop-factor", "0.5", "--noise-scale", "1.2")
    assert rates == [(1, lr, lr * ratio), (2, lr, lr * ratio), (3, lr / 2, lr * ratio / 2)]
    training = json.loads((out / "generator" / "training.json").read_text())
    assert (training["lr_drop_epoch"], training["lr_drop_factor"], training["noise_scale"]) == (2, 0.5, 1.2)
    assert load_generator(out / "generator").noise_scale == 1.2  # the saved generator samples at that scale
    state = torch.load(out / "state.pt", weights_only=True)
    assert state["opt_G"]["param_groups"][0]["lr"] == lr / 2  # saved with the state, as Adam keeps it

    rates.clear()
    run_train(tmp_path, "--epochs", "4", "--resume")  # the run's own drop is kept
    assert rates == [(4, lr / 2, lr * ratio / 2)]
    run_train(tmp_path, "--epochs", "3", out="plain")
    rates.clear()
    run_train(tmp_path, "--epochs", "4", "--resume", "--lr-drop", "3", out="plain")  # given anew: a lower-rate end
    assert rates == [(4, lr / 4, lr * ratio / 4)]
    assert json.loads((tmp_path / "plain" / "config.json").read_text())["lr_drop_epoch"] == 3


def test_a_bad_learning_rate_drop_or_noise_scale_is_refused_by_name(tmp_path, capsys):
    for flag, bad, message in (("--lr-drop", "-1", "must be 0 or a positive integer"),
                               ("--noise-scale", "inf", "must be a positive number"),
                               ("--lr-drop-factor", "0", "must be more than 0 and at most 1"),
                               ("--lr-drop-factor", "1.5", "must be more than 0 and at most 1"),
                               ("--lr-drop-factor", "nan", "must be more than 0 and at most 1")):
        with pytest.raises(SystemExit):
            train_script.main([flag, bad, "--out", str(tmp_path)])
        assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="lr_drop_epoch must be a whole number of epochs, 0 or more, got 2.5"):
        Trainer(TrainConfig(lr_drop_epoch=2.5, out=str(tmp_path)))
    with pytest.raises(ValueError, match="lr_drop_factor must be more than 0 and at most 1, got 2"):
        Trainer(TrainConfig(lr_drop_epoch=1, lr_drop_factor=2, out=str(tmp_path)))
    assert not (tmp_path / "state.pt").exists()


def test_the_auxiliary_classifier_learns_from_real_digits_only_and_g_pays_its_cross_entropy(tmp_path):
    # A weight so large that the classifier's term outweighs D's: the G step must then lower it.
    trainer = Trainer(TrainConfig(aux_weight=100.0, out=str(tmp_path), device="cpu"))
    torch.manual_seed(0)
    real, labels, z = torch.rand(8, 1, 28, 28) * 2 - 1, torch.arange(8), torch.randn(8, trainer.G.z_dim)
    seen = []  # the images the classifier is called on
    classify = trainer.C.forward
    trainer.C.forward = lambda images: seen.append(images.detach().clone()) or classify(images)
    before = {k: v.clone() for k, v in trainer.C.state_dict().items()}
    fake_before = trainer.G(z, labels).detach()
    trainer.train_step(real, labels, z)
    assert len(seen) == 2 and torch.equal(seen[0], real)  # trained on the real batch; the second call is G's fakes
    torch.testing.assert_close(seen[1], fake_before)
    assert any(not torch.equal(before[k], v) for k, v in trainer.C.state_dict().items())
    assert all(p.requires_grad for p in trainer.C.parameters())  # frozen for the G step only
    with torch.no_grad():  # the classifier as the G step saw it (its own step came first)
        ce_before = torch.nn.functional.cross_entropy(classify(fake_before), labels)
        ce_after = torch.nn.functional.cross_entropy(classify(trainer.G(z, labels)), labels)
    assert ce_after < ce_before


def test_an_auxiliary_classifier_run_is_recorded_resumed_and_refused_where_it_does_not_belong(tmp_path, capsys):
    out = run_train(tmp_path, "--aux-classifier", "0.1", "--epochs", "1")
    assert json.loads((out / "generator" / "training.json").read_text())["aux_weight"] == 0.1
    state = torch.load(out / "state.pt", weights_only=True)
    assert state["C"]["net.0.weight"].shape == (32, 1, 4, 4) and state["opt_C"]["state"]
    run_train(tmp_path, "--epochs", "2", "--resume")  # the classifier and its optimizer come back with the run
    resumed = torch.load(out / "state.pt", weights_only=True)
    assert json.loads((out / "config.json").read_text())["aux_weight"] == 0.1
    assert not torch.equal(resumed["C"]["net.0.weight"], state["C"]["net.0.weight"])
    assert torch.load(run_train(tmp_path, "--epochs", "1", out="plain") / "state.pt", weights_only=True)["C"] is None
    with pytest.raises(SystemExit, match="the auxiliary classifier is for dcgan"):
        train_script.main(["--arch", "seed", "--aux-classifier", "1", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        train_script.main(["--aux-classifier", "-1", "--out", str(tmp_path)])
    assert "must be 0 or a positive number" in capsys.readouterr().err
    with pytest.raises(ValueError, match="aux_weight must be 0 or more, got nan"):
        Trainer(TrainConfig(aux_weight=float("nan"), out=str(tmp_path)))


def test_the_g_step_adds_nothing_to_d_and_d_trains_again_next_step(tmp_path):
    # D is frozen while G's loss is back-propagated: no wasted gradient work, and D's .grad stays its own loss's.
    trainer = Trainer(TrainConfig(out=str(tmp_path), batch_size=8))
    seen_at_d_step = []
    d_step = trainer.opt_D.step

    def record_then_step(*args, **kwargs):
        seen_at_d_step.append([p.grad.clone() for p in trainer.D.parameters()])
        return d_step(*args, **kwargs)

    trainer.opt_D.step = record_then_step
    real, labels = torch.rand(8, 1, 28, 28) * 2 - 1, torch.arange(8)
    for _ in range(2):
        trainer.train_step(real, labels, torch.randn(8, trainer.G.z_dim))
        for at_step, p in zip(seen_at_d_step[-1], trainer.D.parameters(), strict=True):
            assert p.requires_grad
            torch.testing.assert_close(p.grad, at_step)
    assert len(seen_at_d_step) == 2
    assert all(p.grad is not None for p in trainer.G.parameters())


def test_the_default_schedule_and_size_are_sized_to_the_device():
    cpu, cuda = TrainConfig().resolved("cpu"), TrainConfig().resolved("cuda")
    assert (cpu.size, cpu.deep_d, cpu.epochs) == ("small", False, 10)  # the 15-minute CPU budget
    assert (cuda.size, cuda.deep_d, cuda.epochs) == ("large", True, 30)
    assert TrainConfig(deep_d=True).resolved("cpu").deep_d  # --deep-d wins over the size's default
    larger_d = TrainConfig(d_size="large").resolved("cpu")  # D's size brings its depth; G keeps the device's size
    assert (larger_d.size, larger_d.d_size, larger_d.deep_d, larger_d.loss) == ("small", "large", True, "hinge")
    assert (cpu.d_size, cuda.d_size, cpu.r1_gamma) == ("small", "large", 0.0)
    assert not TrainConfig(deep_d=False).resolved("cuda").deep_d
    assert TrainConfig(epochs=3, size="small").resolved("cuda").epochs == 3  # --epochs always wins
    assert TrainConfig(size="small").resolved("cuda").size == "small"  # and so does --size
    assert TrainConfig(size="large").resolved("cpu").size == "large"
    seed = TrainConfig(arch="seed").resolved("cuda")
    assert (seed.size, seed.epochs) == ("small", RECIPES["seed"].epochs)
    trainer = Trainer(TrainConfig(device="cpu"))
    assert (trainer.config.epochs, trainer.G.channels) == (10, 32)


def test_ema_moves_each_weight_towards_the_model_and_copies_buffers():
    model, ema = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.running_mean.fill_(5.0)
    update_ema(ema, model, decay=0.75)
    torch.testing.assert_close(ema.weight, torch.full((3,), 1.25))  # 1 + (2 - 1) * 0.25
    torch.testing.assert_close(ema.bias, torch.zeros(3))
    torch.testing.assert_close(ema.running_mean, torch.full((3,), 5.0))


def test_refreshed_batchnorm_stats_are_the_generators_own():
    # An EMA generator carries statistics copied from G; after the refresh they describe its own activations.
    torch.manual_seed(0)
    generator = Trainer(TrainConfig(batch_size=64)).G_ema
    with torch.no_grad():
        generator.fc.weight.mul_(3)  # activations far from the copied statistics (mean 0, variance 1)
    inputs = []
    hook = generator.norm0.norm.register_forward_hook(lambda module, args, out: inputs.append(args[0]))
    refresh_batchnorm_stats(generator, batch_size=64, batches=20)
    hook.remove()
    norm = generator.norm0.norm
    # A plain average over the batches of each batch's mean and (unbiased) variance, as BatchNorm measures them.
    torch.testing.assert_close(norm.running_mean, torch.stack([x.mean((0, 2, 3)) for x in inputs]).mean(0))
    torch.testing.assert_close(norm.running_var, torch.stack([x.var((0, 2, 3)) for x in inputs]).mean(0))
    assert norm.momentum == 0.1 and not generator.training


def test_an_epochs_noise_drawn_at_once_is_the_noise_drawn_step_by_step():
    # fit() draws an epoch's noise in one call; runs (and resumed runs) stay the same as with a draw per step.
    at_once = torch.randn(5, 8, 64, generator=torch.Generator().manual_seed(3))
    rng = torch.Generator().manual_seed(3)
    step_by_step = torch.stack([torch.randn(8, 64, generator=rng) for _ in range(5)])
    assert torch.equal(at_once, step_by_step)


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                    reason="torch.compile on the CPU builds C++ kernels and needs a compiler")
def test_compiled_training_saves_the_same_plain_layout(tmp_path):
    # --compile is the default on a CUDA GPU; here it runs the same compiled path on the CPU, with the R1 penalty,
    # which has to run D uncompiled (compiled graphs have no double backward).
    out = run_train(tmp_path, "--compile", "--r1", "1", "--epochs", "1")
    state = torch.load(out / "state.pt", weights_only=True)
    assert not any("_orig_mod" in key for key in state["G"]) and not any("_orig_mod" in key for key in state["D"])
    assert state["config"]["compile"] is True
    generator = load_generator(str(out / "generator"))
    assert generator.generate(3, 4, seed=0).shape == (4, 28, 28)
