"""The objective and what training saves, on known inputs with hand-computed values: each loss, the R1 penalty and its
weight, the auxiliary classifier's term, the EMA, the BatchNorm refresh, and the generator a run keeps."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from cgan import load_generator
from cgan.recipe import custom_recipe
from cgan.objective import (R1_EVERY, aux_term, d_loss_fn, ema_decay, g_loss_fn, r1_penalty, r1_term,
                            score_as_probability, update_ema)
from cgan.training import TrainConfig, Trainer, standing_statistics

LN2, LN3 = math.log(2), math.log(3)


DATA = None  # the test run's extracted copy of MNIST (conftest's data_dir), shared by every run here


@pytest.fixture(autouse=True)
def shared_data(data_dir):
    global DATA
    DATA = data_dir


@pytest.fixture(autouse=True)
def in_fp32(monkeypatch):
    """These tests compare a step's values with ones computed apart, in fp32: on a CPU with AMX the trainer would
    train in bf16 by default (its own tests are in test_training.py)."""
    monkeypatch.setattr("cgan.training.native_bf16", lambda device: False)


# --- the losses -------------------------------------------------------------------------------------------------------

def test_the_hinge_loss():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    # D: mean(relu(1 - real)) + mean(relu(1 + fake)) = (0 + 0.5) / 2 + (0 + 1.5) / 2
    assert d_loss_fn("hinge", real, fake, None).item() == pytest.approx(1.0)
    assert g_loss_fn("hinge", fake, None).item() == pytest.approx(0.75)  # -mean(fake)


def test_the_non_saturating_loss():
    real, fake = torch.tensor([0.0, LN3]), torch.tensor([0.0, -LN3])
    # D: mean(softplus(-real)) + mean(softplus(fake)) = (ln 2 + ln 4/3) / 2 twice
    expected = 2 * (LN2 + math.log(4 / 3)) / 2
    assert d_loss_fn("nonsaturating", real, fake, None).item() == pytest.approx(expected)
    # G: mean(softplus(-fake)) = (ln 2 + ln 4) / 2: G pays most where D calls its fake fake
    assert g_loss_fn("nonsaturating", fake, None).item() == pytest.approx((LN2 + math.log(4)) / 2)


def test_the_reports_loss_is_bce_of_ten_sigmoids_against_the_one_hot_label():
    labels = torch.tensor([3])
    real = torch.full((1, 10), 0.5)
    fake = torch.full((1, 10), 0.5)
    # Every output at 0.5: BCE is ln 2 per output, whatever the target, for real and for fake.
    assert d_loss_fn("seed", real, fake, labels).item() == pytest.approx(2 * LN2)
    real = torch.full((1, 10), 0.1)
    real[0, 3] = 0.9  # right on the label, 0.1 elsewhere: -ln 0.9 on each of the ten outputs
    assert d_loss_fn("seed", real, torch.zeros(1, 10) + 1e-7, labels).item() == pytest.approx(-math.log(0.9), abs=1e-5)
    assert g_loss_fn("seed", real, labels).item() == pytest.approx(-math.log(0.9), abs=1e-6)


# --- R1, the classifier's term, the EMA -------------------------------------------------------------------------------

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


def test_the_r1_term_is_half_gamma_times_the_penalty_times_its_interval():
    assert R1_EVERY == 4
    assert r1_term(3.0, torch.tensor(2.0)).item() == pytest.approx(3.0 / 2 * 4 * 2.0)


def batch(trainer, n=8):
    torch.manual_seed(0)
    return torch.rand(n, 1, 28, 28) * 2 - 1, torch.arange(n) % 10, torch.randn(n, trainer.gan.G.z_dim)


def d_gradients(trainer, real, labels, z):
    """D's gradients as the D step left them, just before its optimizer step."""
    seen = []
    step = trainer.gan.opt_D.step
    trainer.gan.opt_D.step = lambda *a, **k: seen.append([p.grad.clone() for p in trainer.gan.D.parameters()]) or step(*a, **k)
    trainer.gan.step(real, labels, z)
    return seen[0]


def test_the_d_step_adds_the_weighted_r1_term_on_every_fourth_step(tmp_path):
    with_r1 = Trainer(TrainConfig(device="cpu", out=str(tmp_path), recipe=custom_recipe(r1_gamma=2.0, aux_weight=0)))
    without = Trainer(TrainConfig(device="cpu", out=str(tmp_path), recipe=custom_recipe(r1_gamma=0.0, aux_weight=0)))
    real, labels, z = batch(with_r1)
    start, g = copy.deepcopy(with_r1.gan.D), copy.deepcopy(with_r1.gan.G)  # the same initial weights in both (the same seed)
    with torch.no_grad():  # the D passes of the step before R1, which advance spectral norm's power iteration
        start(real, labels), start(g(z, labels), labels)
    params = list(start.parameters())
    grads = torch.autograd.grad(r1_term(2.0, r1_penalty(start, real, labels)), params, allow_unused=True)
    expected = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]
    difference = [a - b for a, b in zip(d_gradients(with_r1, real, labels, z), d_gradients(without, real, labels, z),
                                        strict=True)]
    got, want = torch.cat([d.flatten() for d in difference]), torch.cat([e.flatten() for e in expected])
    assert want.norm() > 0 and (got - want).norm() < 1e-3 * want.norm()


def test_the_r1_penalty_runs_on_every_fourth_d_step(tmp_path, monkeypatch):
    import cgan.gan
    calls = []
    monkeypatch.setattr(cgan.gan, "r1_penalty", lambda *args: calls.append(1) or r1_penalty(*args))
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path), recipe=custom_recipe(batch_size=8)))
    for _ in range(8):
        trainer.gan.step(*batch(trainer))
    assert len(calls) == 8 // R1_EVERY


def test_the_auxiliary_term_is_the_weighted_cross_entropy_of_the_asked_digit():
    logits = torch.zeros(2, 10)  # no opinion: cross-entropy ln 10
    assert aux_term(0.1, logits, torch.tensor([3, 7])).item() == pytest.approx(0.1 * math.log(10))
    logits[0, 3] = 100.0  # sure and right, then sure and wrong
    assert aux_term(1.0, logits[:1], torch.tensor([3])).item() == pytest.approx(0.0, abs=1e-6)
    assert aux_term(1.0, logits[:1], torch.tensor([4])).item() == pytest.approx(100.0, abs=1e-3)


def test_the_auxiliary_classifier_learns_from_real_digits_only_and_g_pays_its_cross_entropy(tmp_path):
    # A weight so large that the classifier's term outweighs D's: the G step must then lower it.
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path), recipe=custom_recipe(aux_weight=100.0)))
    real, labels, z = batch(trainer)
    seen = []  # the images the classifier is called on
    classify = trainer.gan.C.forward
    trainer.gan.C.forward = lambda images: seen.append(images.detach().clone()) or classify(images)
    before = {k: v.clone() for k, v in trainer.gan.C.state_dict().items()}
    fake_before = trainer.gan.G(z, labels).detach()
    trainer.gan.step(real, labels, z)
    assert len(seen) == 2 and torch.equal(seen[0], real)  # trained on the real batch; the second call is G's fakes
    torch.testing.assert_close(seen[1], fake_before)
    assert any(not torch.equal(before[k], v) for k, v in trainer.gan.C.state_dict().items())
    assert all(p.requires_grad for p in trainer.gan.C.parameters())  # frozen for the G step only
    with torch.no_grad():  # the classifier as the G step saw it (its own step came first)
        ce_before = F.cross_entropy(classify(fake_before), labels)
        ce_after = F.cross_entropy(classify(trainer.gan.G(z, labels)), labels)
    assert ce_after < ce_before


def test_the_g_step_adds_nothing_to_d_and_d_trains_again_next_step(tmp_path):
    # D is frozen while G's loss is back-propagated: no wasted gradient work, and D's .grad stays its own loss's.
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path), recipe=custom_recipe(batch_size=8)))
    for _ in range(2):
        real, labels, z = batch(trainer)
        at_step = d_gradients(trainer, real, labels, z)
        for seen, p in zip(at_step, trainer.gan.D.parameters(), strict=True):
            assert p.requires_grad
            torch.testing.assert_close(p.grad, seen)
    assert all(p.grad is not None for p in trainer.gan.G.parameters())


def test_ema_moves_each_weight_towards_the_model_and_copies_buffers():
    model, ema = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.running_mean.fill_(5.0)
    update_ema(ema, model, decay=0.75)
    torch.testing.assert_close(ema.weight, torch.full((3,), 1.25))  # 1 + (2 - 1) * 0.25
    torch.testing.assert_close(ema.bias, torch.zeros(3))
    torch.testing.assert_close(ema.running_mean, torch.full((3,), 5.0))


def test_the_ema_decay_warms_up_to_its_value():
    assert ema_decay(0.999, 0) == pytest.approx(0.1) and ema_decay(0.999, 10) == pytest.approx(11 / 20)
    assert ema_decay(0.999, 10**6) == 0.999


def test_each_step_moves_the_ema_by_its_decay_towards_g(tmp_path):
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path), recipe=custom_recipe(batch_size=8)))
    for _ in range(3):
        before = [p.clone() for p in trainer.gan.G_ema.parameters()]
        trainer.gan.step(*batch(trainer))
        decay = ema_decay(0.999, trainer.gan.steps)
        for old, new, g in zip(before, trainer.gan.G_ema.parameters(), trainer.gan.G.parameters(), strict=True):
            torch.testing.assert_close(new, old * decay + g * (1 - decay))


def test_refreshed_batchnorm_stats_are_the_generators_own():
    # An EMA generator carries statistics copied from G; after the refresh they describe its own activations.
    torch.manual_seed(0)
    generator = Trainer(TrainConfig(device="cpu", recipe=custom_recipe(batch_size=64))).gan.G_ema
    with torch.no_grad():
        generator.fc.weight.mul_(3)  # activations far from the copied statistics (mean 0, variance 1)
    inputs = []
    hook = generator.norm0.norm.register_forward_hook(lambda module, args, out: inputs.append(args[0]))
    standing_statistics(generator, batch_size=64, seed=0)
    hook.remove()
    assert len(inputs) == 100
    norm = generator.norm0.norm
    # A plain average over the batches of each batch's mean and (unbiased) variance, as BatchNorm measures them.
    torch.testing.assert_close(norm.running_mean, torch.stack([x.mean((0, 2, 3)) for x in inputs]).mean(0))
    torch.testing.assert_close(norm.running_var, torch.stack([x.var((0, 2, 3)) for x in inputs]).mean(0))
    assert norm.momentum == 0.1 and not generator.training


# --- what a run saves -------------------------------------------------------------------------------------------------

def test_a_saved_state_loads_back_into_a_new_trainer_part_for_part(tmp_path):
    saved = Trainer(TrainConfig(device="cpu", out=str(tmp_path), recipe=custom_recipe(batch_size=8)))
    with torch.no_grad():  # every network and generator somewhere the new trainer's are not
        for network in (saved.gan.G, saved.gan.D, saved.gan.G_ema, saved.gan.C):
            next(network.parameters()).add_(1.0)
    torch.randn(5, generator=saved.rng)
    saved.epoch, saved.gan.steps, saved.watch.history = 3, 17, [{"epoch": 3, "d_loss": 1.5}]
    saved.watch.healthy, saved.partial = {"epoch": 2, "weights": saved.gan.G_ema.state_dict()}, {"step": 9}
    loaded = Trainer(TrainConfig(device="cpu", out=str(tmp_path), seed=1, recipe=custom_recipe(batch_size=8)))
    loaded.load_state_dict(saved.state_dict())
    for a, b in ((saved.gan.G, loaded.gan.G), (saved.gan.D, loaded.gan.D), (saved.gan.G_ema, loaded.gan.G_ema), (saved.gan.C, loaded.gan.C)):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert torch.equal(loaded.rng.get_state(), saved.rng.get_state())
    assert (loaded.epoch, loaded.gan.steps, loaded.watch.history, loaded.partial) == (3, 17, saved.watch.history,
                                                                                  {"step": 9})
    assert loaded.watch.healthy["epoch"] == 2 and loaded.watch.healthy["weights"] is saved.watch.healthy["weights"]


def test_d_scores_are_read_as_the_probability_of_a_real_digit_of_its_label():
    labels = torch.tensor([0, 2])
    per_digit = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]])  # the seed D's sigmoid outputs, one per digit
    assert score_as_probability("seed", per_digit, labels).item() == pytest.approx(0.7)
    assert score_as_probability("nonsaturating", torch.tensor([0.0, math.log(3)]), labels).item() == pytest.approx(
        0.625)  # sigmoid: 0.5 and 0.75


def tiny_run(tmp_path, epochs=2, seed=0, **changes):
    recipe = custom_recipe(noise_scales=(), batch_size=64, **changes)
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path / "run"), limit=256, epochs=epochs, recipe=recipe,
                                  data_dir=str(DATA), seed=seed))
    return trainer, trainer.fit(log=lambda *_: None, progress=False)


def test_the_saved_generator_is_the_ema_with_its_statistics_refreshed(tmp_path):
    trainer, model = tiny_run(tmp_path, seed=1, size="large")  # not the defaults, so that both must be passed on
    assert model.size == "large"
    state = torch.load(trainer.state_path, weights_only=True)  # the EMA and G as the last epoch left them
    saved = model.net.state_dict()
    for name, _ in trainer.gan.G.named_parameters():
        torch.testing.assert_close(saved[name], state["G_ema"][name], rtol=0, atol=0)
        assert not torch.equal(saved[name], state["G"][name]), name
    # The BatchNorm statistics are not the EMA's copied ones but those measured again on the EMA's own outputs.
    ema = copy.deepcopy(trainer.gan.G)
    ema.load_state_dict(state["G_ema"])
    standing_statistics(ema, 64, seed=1)  # with the run's seed
    for name, buffer in ema.named_buffers():
        if name.endswith(("running_mean", "running_var")):
            torch.testing.assert_close(saved[name], buffer)
            assert not torch.equal(saved[name], state["G_ema"][name]), name


def test_a_collapse_in_the_last_epoch_is_warned_of_and_the_last_healthy_epoch_is_saved(tmp_path):
    bundled = load_generator()  # start from a trained G, so that the first epoch is a healthy one
    trainer = Trainer(TrainConfig(device="cpu", out=str(tmp_path / "run"), limit=256, epochs=2,
                                  recipe=custom_recipe(noise_scales=(), batch_size=64, output=bundled.output,
                                                       ink=bundled.ink, g_fine=bundled.fine),
                                  data_dir=str(DATA)))
    shipped = bundled.net.state_dict()
    trainer.gan.G.load_state_dict(shipped)
    trainer.gan.G_ema.load_state_dict(shipped)
    real_step = trainer.gan.step
    healthy = {}

    def step(*args):
        if trainer.epoch == 1:  # the last epoch: G stops listening to its noise, and so draws each digit one way
            healthy.setdefault("ema", copy.deepcopy(trainer.gan.G_ema.state_dict()))
            with torch.no_grad():
                trainer.gan.G.fc.weight[:, : trainer.gan.G.z_dim] = 0
        return real_step(*args)

    trainer.gan.step = step
    logs = []
    model = trainer.fit(log=logs.append, progress=False)
    assert any("WARNING: collapse" in line for line in logs)
    assert any("the final generator is collapsed; saving epoch 1's instead" in line for line in logs)
    saved = model.net.state_dict()
    for name, _ in trainer.gan.G.named_parameters():  # epoch 1's EMA, as it was when epoch 2 began
        torch.testing.assert_close(saved[name], healthy["ema"][name], rtol=0, atol=0)
