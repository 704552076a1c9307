"""The GAN training loop: D step, G step, EMA, per-epoch artifacts, resumable state, and the choices made at the end.

A run folder holds:
  samples/epoch_NNN.png   10x10 grid, a row per digit, the same noise every epoch
  metrics.jsonl           one line per epoch: losses, mean D(x), mean D(G(z)), diversity, seconds
  state.pt                everything needed to resume (written atomically each epoch, and at a Ctrl-C)
  losses.png, d_scores.png   the curves, at the end (losses beside the collapse signal; mean D outputs)
  generator/              the trained generator in Hugging Face layout (config.json, model.safetensors, README.md)

What it trains with is the recipe (cgan/recipe.py).
"""

import copy
import dataclasses
import datetime
import errno
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from cgan.data import DEFAULT_DATA_DIR, ink_levels, load_mnist, to_model_range, validation_split
from cgan.device import describe, native_bf16, pick_device
from cgan.diversity import DiversityProbe
from cgan.evaluate import choose_noise_scale
from cgan.generation import ConditionalGenerator
from cgan.models import ARCHS, DEFAULT_ARCH, NUM_CLASSES, AuxiliaryClassifier, build_networks, to_fast_layout
from cgan.plots import save_grid, save_training_curves
from cgan.recipe import BUDGETS, RECIPES, Recipe, check_recipe, default_budget, recipe_from_saved

PROGRESS_EVERY = 20  # steps between progress-bar updates (and checks for a NaN loss): each is a host sync on a GPU
MIN_FREE_BYTES = 64 * 2**20  # a run folder needs a few MB per epoch; less free space than this is refused up front


@dataclasses.dataclass
class TrainConfig:
    """What `python train.py` is asked for. None means the default: for a new run the recipe's, for a resumed run its
    own."""

    arch: str | None = None  # None: dcgan
    budget: str | None = None  # "quick" or "full" (cgan.recipe.BUDGETS); None: "full" on a CUDA GPU, else "quick"
    epochs: int | None = None  # None: the recipe's; more extends a run
    seed: int | None = None  # None: 0
    device: str = "auto"
    out: str = "runs/default"
    data_dir: str = DEFAULT_DATA_DIR
    mnist_dir: str | None = None
    limit: int | None = None  # train on the first `limit` images only (quick trials, tests)
    resume: bool = False
    compile: bool | None = None  # torch.compile G, D and the classifier; None: on a CUDA GPU only
    bf16: bool | None = None  # train under bf16 autocast; None: where the hardware does bf16 natively (native_bf16)
    recipe: Recipe | None = None  # None: RECIPES[arch, budget]; experiments and tests may give their own
    command: str | None = None  # the command line that asked for this, recorded in training.json


def new_run_config(config, device_type):
    """`config` of a new run with its defaults filled in: dcgan, the budget of `device_type` where none is named (the
    full one on a CUDA GPU, else the quick one), that budget's recipe, which no device changes, and its epochs."""
    arch = config.arch or DEFAULT_ARCH
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    budget = config.budget or default_budget(device_type)
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    recipe = config.recipe or RECIPES[(arch, budget)]
    return dataclasses.replace(config, arch=arch, budget=budget, seed=config.seed or 0, recipe=recipe,
                               epochs=config.epochs or recipe.epochs)


class TrainingError(RuntimeError):
    """Training cannot go on; the message says why and what was kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C: the state was saved at the end of the step in progress."""


# --- losses: each returns (loss, mean D(x) or D(G(z)) as a probability, for the logs) ---------------------------


def d_loss_fn(loss, real_scores, fake_scores, labels):
    """D's loss: hinge, non-saturating (softplus), or the report's BCE of 10 sigmoid outputs."""
    if loss == "hinge":
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
    if loss == "nonsaturating":
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
    # seed: BCE of the 10 sigmoid outputs against the one-hot label (real) and against zeros (fake).
    target = F.one_hot(labels, NUM_CLASSES).float()
    return F.binary_cross_entropy(real_scores, target) + F.binary_cross_entropy(fake_scores, torch.zeros_like(target))


def g_loss_fn(loss, fake_scores, labels):
    """G's loss for the same three objectives."""
    if loss == "hinge":
        return -fake_scores.mean()
    if loss == "nonsaturating":
        return F.softplus(-fake_scores).mean()
    return F.binary_cross_entropy(fake_scores, F.one_hot(labels, NUM_CLASSES).float())


def score_as_probability(loss, scores, labels):
    """Mean D output as a probability that the image is a real digit of its label."""
    if loss == "seed":
        return scores.float().gather(1, labels[:, None]).mean()
    return torch.sigmoid(scores.float()).mean()


R1_EVERY = 4  # lazy regularisation (StyleGAN2): the R1 penalty on every 4th D step only, at 4x the weight


def r1_penalty(discriminator, real, labels):
    """E ||dD(x)/dx||^2 over real digits x (Mescheder et al. 2018): pushing D's gradient on the data towards zero
    keeps D from sharpening into a few real modes, which is what lets G drop styles.

    Run eagerly in fp32 through `forward`, so a torch.compile'd D is bypassed: compiled graphs have no double
    backward.
    """
    real = real.detach().float().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator.forward(real, labels).sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def r1_term(gamma, penalty):
    """What the R1 penalty adds to D's loss on the steps it runs: gamma / 2 x the penalty, times R1_EVERY because it
    runs on one D step in R1_EVERY (lazy regularisation keeps the same average weight)."""
    return gamma / 2 * R1_EVERY * penalty


def aux_term(weight, fake_logits, labels):
    """What G pays when the auxiliary classifier reads its fakes: weight x the cross-entropy against the asked digit."""
    return weight * F.cross_entropy(fake_logits, labels)


def ema_decay(decay, steps):
    """The EMA's decay after `steps` steps: min(decay, (1 + steps) / (10 + steps)). Early on the EMA follows G
    closely, so it is not dragged back towards the random initial weights."""
    return min(decay, (1 + steps) / (10 + steps))


def make_optimizer(recipe, params, lr, device):
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.betas[0])
    # The fused kernel is one launch per step instead of one per tensor: worth it on a GPU only.
    return torch.optim.Adam(params, lr=lr, betas=recipe.betas, fused=device.type == "cuda")


def update_ema(ema, model, decay):
    """ema <- decay * ema + (1 - decay) * model, weight by weight; buffers (BatchNorm statistics) are copied.
    One multi-tensor kernel for all the weights rather than one launch per tensor: a GPU step is launch-bound."""
    with torch.no_grad():
        torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - decay)
        torch._foreach_copy_(list(ema.buffers()), list(model.buffers()))


@torch.no_grad()
def refresh_batchnorm_stats(generator, batch_size, batches=100, seed=0):
    """Re-measure a generator's BatchNorm running statistics on its own outputs, at the training batch size.

    An EMA generator carries statistics that update_ema copied from G, measured on G's activations; its averaged
    weights give somewhat different ones (BigGAN's "standing statistics" fix this the same way). What it changed in
    the measured quality: docs/training-notes.md.
    """
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches below
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    was_training = generator.training
    generator.train()
    for _ in range(batches):
        z = torch.randn(batch_size, generator.z_dim, generator=rng).to(device)
        generator(z, torch.randint(0, NUM_CLASSES, (batch_size,), generator=rng).to(device))
    generator.train(was_training)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def atomic_save(obj, path):
    """torch.save to a temporary file, then rename: a crash mid-write leaves the previous file intact."""
    tmp = Path(str(path) + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-written file behind
        raise


class Trainer:
    """One training run in one run folder."""

    # Settings a resumed run keeps; asking for another value is refused, as it would be another run.
    FIXED_ON_RESUME = ("arch", "budget", "seed", "limit", "recipe")

    def __init__(self, config: TrainConfig):
        self.out = Path(config.out)
        self.state_path = self.out / "state.pt"
        self.resume_state = None
        self.changes = []  # settings changed on resume: {"epoch", "setting", "old", "new"}
        self.resumes = []  # when the run went on after a stop: {"epoch": the epoch it went on after, "at": UTC time}
        self.device = pick_device(config.device)
        config = self.resumed_config(config) if config.resume else new_run_config(config, self.device.type)
        check_recipe(config.arch, config.recipe)
        if isinstance(config.epochs, bool) or not isinstance(config.epochs, int) or config.epochs < 1:
            raise ValueError(f"epochs must be a whole number, 1 or more, got {config.epochs!r}")
        self.config = dataclasses.replace(config, compile=config.compile if config.compile is not None
                                          else self.device.type == "cuda",
                                          bf16=config.bf16 if config.bf16 is not None else native_bf16(self.device))
        if self.config.bf16 and self.device.type == "mps":
            raise ValueError("bf16 is for a CUDA GPU or a CPU; on mps train without it (--no-bf16)")
        if self.config.bf16 and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"bf16 was asked for, but {torch.cuda.get_device_name(self.device)} has no bf16: "
                             f"train without it (--no-bf16)")
        self.recipe = recipe = self.config.recipe
        # The run is the command that started it: a resume adds a time (and a change, where it asked for one).
        if self.resume_state is not None:
            self.command = self.resume_state["command"]
            self.resumes.append({"epoch": self.resume_state["epoch"],
                                 "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")})
        else:
            self.command = self.config.command
        self.device_name = describe(self.device)
        self.autocast = self.config.bf16

        torch.manual_seed(self.config.seed)
        self.G, self.D = build_networks(self.config.arch, recipe.size, recipe.deep_d, recipe.d_size, recipe.output,
                                        recipe.d_stem, recipe.g_fine)
        self.G.to(self.device)
        self.D.to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if recipe.ema_decay else None
        # The auxiliary classifier has its own fixed-rate optimizer: it learns a plain supervised task, which needs
        # neither the GAN's TTUR rates nor their drop.
        self.C, self.opt_C = None, None
        if recipe.aux_weight:
            self.C = AuxiliaryClassifier().to(self.device)
            self.opt_C = torch.optim.Adam(self.C.parameters(), lr=1e-3, betas=(0.5, 0.999))
        if self.autocast:
            # oneDNN's bf16 kernels work channels-last (to_fast_layout changes a CPU's only): D and the classifier in
            # that layout made a bf16 step of the CPU recipe 1.08x faster again (benchmarks/bf16.py); G in it too did
            # not pay (a scratch timing). G, and so its EMA, which is saved, keeps the plain layout.
            for network in (self.D, self.C):
                if network is not None:
                    to_fast_layout(network, self.device)
        if self.config.compile:
            # In place (Module.compile), so state_dict keys and the EMA (copied above, never compiled) are unchanged.
            # On a GPU this fuses the many small element-wise kernels; on a CPU the first steps pay for compilation.
            for network in (self.G, self.D, self.C):
                if network is not None:
                    network.compile()
        self.opt_G = make_optimizer(recipe, self.G.parameters(), recipe.lr, self.device)
        self.opt_D = make_optimizer(recipe, self.D.parameters(), recipe.lr * recipe.d_lr_ratio, self.device)
        # All of the run's randomness (batch order, noise) comes from this CPU generator, saved with the state.
        self.rng = torch.Generator().manual_seed(self.config.seed)
        self.epoch = 0
        self.steps = 0
        self.history = []
        self.healthy = None  # (epoch, generator weights) of the last epoch that was not collapsed
        self.partial = None  # an epoch stopped by Ctrl-C: where it stopped, to go on from there
        self.validation_set = None
        self.ink_levels = None  # the training digits' full-ink levels (cgan.data.ink_levels), where the recipe draws them
        self.stop_requested = False
        self.noise_choice = None  # the noise scales measured on the validation split at the end, and the one chosen

        fixed = torch.Generator().manual_seed(1234)
        # One noise vector per column, repeated down the rows: a row per digit, the same "style" per column.
        self.grid_noise = torch.randn(NUM_CLASSES, self.G.z_dim, generator=fixed).repeat(NUM_CLASSES, 1)
        self.grid_labels = torch.arange(NUM_CLASSES).repeat_interleave(NUM_CLASSES)

    def resumed_config(self, config):
        """The saved run's own settings, with what `config` asks for checked against them: --epochs, the device and
        the precision (--bf16/--no-bf16; else the run's own) may change and the change is recorded; any other setting
        that differs is refused by name."""
        if not self.state_path.exists():
            raise FileNotFoundError(f"--resume: no {self.state_path} to resume from; start without --resume")
        self.resume_state = state = load_state(self.state_path)
        saved = state["config"]
        missing = [key for key in ("command", "resumes", "changes", "partial") if key not in state]
        missing += [key for key in ("arch", "budget", "seed", "limit", "epochs", "bf16", "device_type")
                    if key not in saved]
        try:
            if missing:
                raise ValueError(f"it was saved by an older version of train.py (it has no {', '.join(missing)})")
            recipe = recipe_from_saved(saved)
        except ValueError as error:
            raise TrainingError(f"{self.state_path} cannot be resumed: {error}; start a new run (another --out)") \
                from None
        own = {name: saved[name] for name in ("arch", "budget", "seed", "limit")} | {"recipe": recipe}
        for name in self.FIXED_ON_RESUME:
            asked = getattr(config, name)
            if asked is not None and asked != own[name]:
                what = "the recipe" if name == "recipe" else f"--{name} {own[name]}"
                raise ValueError(f"--resume: this run was trained with {what}; it cannot go on with {name} "
                                 f"{asked!r} (that would be another run: give it another --out)")
        self.changes, self.resumes = list(state["changes"]), list(state["resumes"])
        epochs = config.epochs or saved["epochs"]
        bf16 = saved["bf16"] if config.bf16 is None else config.bf16
        for name, old, new in (("epochs", saved["epochs"], epochs), ("device", saved["device_type"], self.device.type),
                               ("bf16", saved["bf16"], bf16)):
            if old != new:
                self.changes.append({"epoch": state["epoch"], "setting": name, "old": old, "new": new})
        return dataclasses.replace(config, epochs=epochs, bf16=bf16, **own)

    # --- the generator the run keeps: the EMA when there is one ----------------------------------------------------
    @property
    def final_G(self):
        return self.G_ema if self.G_ema is not None else self.G

    def state_dict(self):
        config = dataclasses.asdict(self.config)
        config["device_type"] = self.device.type
        return {
            "config": config,
            "epoch": self.epoch,
            "steps": self.steps,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "rng": self.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "healthy": self.healthy,
            "C": self.C.state_dict() if self.C is not None else None,
            "opt_C": self.opt_C.state_dict() if self.C is not None else None,
            "partial": self.partial,
            "changes": self.changes,
            "command": self.command,
            "resumes": self.resumes,
        }

    def set_learning_rates(self):
        """The rates for the coming epoch: the recipe's, times lr_drop_factor once lr_drop_epoch epochs are done.
        Set each epoch, so a resumed run (whose Adam state carries the old rates) gets them too."""
        recipe = self.recipe
        drop = recipe.lr_drop_factor if recipe.lr_drop_epoch is not None and self.epoch >= recipe.lr_drop_epoch else 1
        for optimizer, lr in ((self.opt_G, recipe.lr), (self.opt_D, recipe.lr * recipe.d_lr_ratio)):
            for group in optimizer.param_groups:
                group["lr"] = lr * drop

    def load_state_dict(self, state):
        """Everything of a saved state, checked: a state of another network names the file and the mismatch."""
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            if self.G_ema is not None:
                self.G_ema.load_state_dict(state["G_ema"])
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
            if self.C is not None:
                self.C.load_state_dict(state["C"])
                self.opt_C.load_state_dict(state["opt_C"])
        except (KeyError, RuntimeError, ValueError, TypeError) as error:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            raise TrainingError(f"{self.state_path} does not match the networks of its own config "
                                f"({type(error).__name__}: {' '.join(lines[:2])}); it is damaged or was written by "
                                f"other code") from None
        self.epoch = state["epoch"]
        self.steps = state["steps"]
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.history = state["history"]
        self.healthy = state["healthy"]
        self.partial = state["partial"]

    # --- one step -----------------------------------------------------------------------------------------------------
    def train_step(self, real, labels, z):
        """One D step and one G step on a batch of real digits, with G's noise `z` (on the device)."""
        loss, recipe = self.recipe.loss, self.recipe
        # Networks run under autocast (bf16 on a GPU); losses in fp32 outside it, where BCE is allowed.
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            # (1) D step: real digits of their label vs. fakes of the same labels (G gets the label too).
            fake = self.G(z, labels)
            real_scores = self.D(real, labels)
            fake_scores = self.D(fake.detach(), labels)
            real_logits = self.C(real) if self.C is not None else None
        d_loss = d_loss_fn(loss, real_scores.float(), fake_scores.float(), labels)
        d_total = d_loss
        if recipe.r1_gamma and self.steps % R1_EVERY == 0:
            d_total = d_loss + r1_term(recipe.r1_gamma, r1_penalty(self.D, real, labels))
        self.opt_D.zero_grad(set_to_none=True)
        d_total.backward()
        self.opt_D.step()
        if self.C is not None:  # the classifier's step: real digits only
            self.opt_C.zero_grad(set_to_none=True)
            F.cross_entropy(real_logits.float(), labels).backward()
            self.opt_C.step()

        # (2) G step: make D score the fakes as real digits of the requested label. D's weights are frozen meanwhile,
        # so the backward pass skips their gradients, which the G step would only throw away.
        judges = [net for net in (self.D, self.C) if net is not None]
        for net in judges:
            net.requires_grad_(False)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            g_scores = self.D(fake, labels)
            fake_logits = self.C(fake) if self.C is not None else None
        g_loss = g_loss_fn(loss, g_scores.float(), labels)
        g_total = g_loss
        if self.C is not None:  # G also pays when the classifier reads its fake as another digit
            g_total = g_total + aux_term(recipe.aux_weight, fake_logits.float(), labels)
        self.opt_G.zero_grad(set_to_none=True)
        g_total.backward()
        for net in judges:
            net.requires_grad_(True)
        self.opt_G.step()
        self.steps += 1
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, ema_decay(recipe.ema_decay, self.steps))
        return d_loss.detach(), g_loss.detach(), real_scores.detach(), fake_scores.detach()

    # --- the run --------------------------------------------------------------------------------------------------------
    def fit(self, log=print, progress=True):
        cfg = self.config
        prepare_folder(self.out)
        (self.out / "samples").mkdir(exist_ok=True)
        if self.resume_state is not None:
            self.load_state_dict(self.resume_state)
            where = f"in epoch {self.epoch + 1}, after step {self.partial['step']}" if self.partial else \
                f"after epoch {self.epoch}"
            log(f"resumed {self.state_path} {where}")

        images, labels, reference = self.training_data()
        # The whole set lives on the device as uint8 (47 MB); batches are sliced from it, no DataLoader.
        images, labels = images.to(self.device), labels.to(self.device)
        probe = DiversityProbe(*reference, seed=cfg.seed, ink=self.recipe.ink)
        n = len(labels)
        batch = min(self.recipe.batch_size, n)  # a trial on fewer images than a batch trains on them all at once
        steps = n // batch
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2, default=str))

        with stop_on_sigint(self):
            while self.epoch < cfg.epochs:
                self.train_epoch(images, labels, batch, steps, probe, log, progress)
        return self.finish(log)

    def training_data(self):
        """(images, labels) to train on, and (images, labels) of the real digits the collapse probe compares with:
        with the recipe's validation split, the training part and the held-out digits; else all of the training set.
        `limit` keeps the first images of the training part only."""
        images, labels = load_mnist(train=True, data_dir=self.config.data_dir, mnist_dir=self.config.mnist_dir)
        reference = images, labels
        if self.recipe.validation:
            train_idx, val_idx = validation_split(labels)
            self.validation_set = reference = images[val_idx], labels[val_idx]
            images, labels = images[train_idx], labels[train_idx]
        if self.config.limit:
            images, labels = images[: self.config.limit], labels[: self.config.limit]
        self.ink_levels = ink_levels(images) if self.recipe.ink_levels else None
        return images, labels, reference

    def train_epoch(self, images, labels, batch, steps, probe, log, progress):
        """One epoch, or the rest of one that a Ctrl-C stopped; then its artifacts and the state."""
        self.set_learning_rates()
        self.G.train()
        self.D.train()
        partial, self.partial = self.partial, None
        if partial:  # go on where the Ctrl-C stopped: the same order and noise, from the next step
            self.rng.set_state(partial["rng"])
        epoch_rng = self.rng.get_state()
        order = torch.randperm(len(labels), generator=self.rng).to(self.device)
        # The epoch's noise in one draw and one copy: a copy from the CPU each step would stall a GPU. The numbers are
        # the same as drawing each step's noise in turn (the generator's stream does not depend on the split).
        noise = torch.randn(steps, batch, self.G.z_dim, generator=self.rng).to(self.device)
        first = partial["step"] if partial else 0
        sums = partial["sums"].to(self.device) if partial else torch.zeros(4, device=self.device)
        losses = partial["losses"].to(self.device) if partial else torch.zeros(steps, 2, device=self.device)
        seconds_before = partial["seconds"] if partial else 0.0
        start = time.perf_counter()
        bar = tqdm(range(first, steps), desc=f"epoch {self.epoch + 1}/{self.config.epochs}", unit="step",
                   leave=False, disable=not progress, initial=first, total=steps)
        for step in bar:
            idx = order[step * batch:(step + 1) * batch]
            real = to_model_range(images[idx], self.recipe.ink)
            d_loss, g_loss, real_s, fake_s = self.train_step(real, labels[idx], noise[step])
            losses[step] = torch.stack([d_loss, g_loss])
            sums += torch.stack([d_loss, g_loss, score_as_probability(self.recipe.loss, real_s, labels[idx]),
                                 score_as_probability(self.recipe.loss, fake_s, labels[idx])])
            if step % PROGRESS_EVERY == 0 or step == steps - 1:
                self.check_finite(losses[: step + 1])
                bar.set_postfix(D=f"{d_loss.item():.3f}", G=f"{g_loss.item():.3f}")
            if self.stop_requested:
                self.check_finite(losses[: step + 1])
                self.partial = {"step": step + 1, "rng": epoch_rng, "sums": sums.cpu(), "losses": losses.cpu(),
                                "seconds": seconds_before + time.perf_counter() - start}
                self.save_state()
                raise TrainingInterrupted(f"stopped in epoch {self.epoch + 1} after step {step + 1}; "
                                          f"the state is saved in {self.state_path}")
        bar.close()
        seconds = seconds_before + time.perf_counter() - start
        self.epoch += 1
        self.end_epoch(sums / steps, seconds, probe, log)
        self.save_state()

    def check_finite(self, losses):
        """TrainingError naming the epoch and step where a loss first became NaN or infinite. Nothing of this
        epoch is saved: state.pt keeps the last good epoch."""
        bad = (~torch.isfinite(losses)).any(dim=1).nonzero()
        if len(bad):
            step = int(bad[0]) + 1
            which = "D" if not torch.isfinite(losses[step - 1, 0]) else "G"
            kept = (f"{self.state_path} keeps epoch {self.epoch}" if self.epoch
                    else "no state was saved (it was the first epoch)")
            raise TrainingError(f"{which}'s loss became {losses[step - 1].tolist()[which == 'G']} in epoch "
                                f"{self.epoch + 1}, step {step}: training diverged. {kept}; no generator was saved "
                                f"from the broken weights")

    def save_state(self):
        """state.pt, atomically: a failed write (a full disk) leaves the previous state.pt as it was."""
        try:
            atomic_save(self.state_dict(), self.state_path)
        except OSError as error:
            kept = f"{self.state_path} still holds epoch {self.resume_epoch_on_disk()}" if self.state_path.exists() \
                else "no state was saved yet"
            raise TrainingError(f"could not write {self.state_path} after epoch {self.epoch} ({error.strerror or error}); "
                                f"{kept}, intact. Free some space and resume with --resume") from None

    def resume_epoch_on_disk(self):
        try:
            return load_state(self.state_path)["epoch"]
        except Exception:
            return "?"

    def end_epoch(self, means, seconds, probe, log):
        G = self.final_G
        G.eval()
        with torch.no_grad():
            grid = G(self.grid_noise.to(self.device), self.grid_labels.to(self.device)).float().cpu()
        save_grid(grid, self.out / "samples" / f"epoch_{self.epoch:03d}.png", nrow=NUM_CLASSES)
        diversity = probe.measure(G, self.device)
        falling = probe.falling(self.history, diversity)
        d_loss, g_loss, d_real, d_fake = means.tolist()
        row = {"epoch": self.epoch, "d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake,
               "diversity_min": min(diversity), "diversity_mean": sum(diversity) / len(diversity),
               "diversity": diversity, "seconds": seconds}
        self.history.append(row)
        # Rewritten whole from the history: after a resume it never holds the lines of an epoch that was lost.
        (self.out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in self.history))
        log(f"epoch {self.epoch}: D {d_loss:.3f}  G {g_loss:.3f}  D(x) {d_real:.2f}  D(G(z)) {d_fake:.2f}  "
            f"diversity min {row['diversity_min']:.2f} mean {row['diversity_mean']:.2f}  {seconds:.0f}s")
        worst = min(range(NUM_CLASSES), key=lambda d: diversity[d])
        if falling:
            log(f"WARNING: diversity is falling: digit {worst}'s fakes now vary {diversity[worst]:.2f}x as much as "
                f"real ones, down from {probe.best_so_far(self.history[:-1]):.2f} (a sign of collapse)")
        if probe.collapsed(diversity):
            log(f"WARNING: collapse: the fakes of digit {worst} vary {diversity[worst]:.2f}x as much as real ones "
                f"(threshold {probe.threshold})")
        else:
            self.healthy = {"epoch": self.epoch, "weights": copy.deepcopy(G.state_dict())}

    def finish(self, log):
        """The generator to save, at the end of training or wherever it was stopped, with the loss curves drawn: the
        last one that was not collapsed (the final one, unless the end collapsed), its BatchNorm statistics measured
        again, at the noise scale that measures best on the validation split."""
        save_training_curves(self.history, self.out)
        G = self.final_G
        if self.healthy is None:
            log("WARNING: every epoch looked collapsed; saving the final generator anyway")
        elif self.healthy["epoch"] != self.epoch:
            log(f"WARNING: the final generator is collapsed; saving epoch {self.healthy['epoch']}'s instead")
            G.load_state_dict(self.healthy["weights"])
        if self.G_ema is not None:
            refresh_batchnorm_stats(G, self.recipe.batch_size, seed=self.config.seed)
        model = ConditionalGenerator.for_recipe(self.config.arch, self.recipe, self.ink_levels)
        model.net.load_state_dict(G.state_dict())
        model = model.cpu().eval()
        if self.recipe.noise_scales and self.validation_set is not None:
            model = self.choose_noise_scale(model, log)
        return model

    def choose_noise_scale(self, model, log):
        """The model at the noise scale of recipe.noise_scales whose digits come closest to the validation digits
        (cgan.evaluate.choose_noise_scale); the test set is never looked at."""
        try:
            scale, measured = choose_noise_scale(model, *self.validation_set, self.recipe.noise_scales,
                                                 seed=self.config.seed, device=self.device)
        except OSError as error:  # no evaluation classifier on disk: keep the plain scale
            log(f"warning: the noise scale was not chosen ({error}); the generator samples at scale 1")
            return model
        self.noise_choice = {"scale": scale, "measured": measured}
        log("noise scale, by the mean per-digit FD on the validation split: " +
            ", ".join(f"{s:g}: {m['fd_per_digit']:.3f}" for s, m in measured.items()) + f"; chose {scale:g}")
        return model.with_noise_scale(scale)


def load_state(path):
    """A saved state.pt, read with weights_only=True (tensors and plain data only, never code); a damaged file is a
    TrainingError naming it."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise TrainingError(f"{path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0]}): it is "
                            f"damaged or not a state saved by train.py; start a new run (another --out)") from None


def prepare_folder(out):
    """Make the run folder, or a TrainingError before any training if it cannot be written or the disk is full."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"cgan")
        probe.unlink()
    except OSError as error:
        raise TrainingError(f"--out {out} cannot be written ({error.strerror or error}); choose another folder") \
            from None
    free = shutil.disk_usage(out).free
    if free < MIN_FREE_BYTES:
        raise TrainingError(f"--out {out}: only {free / 2**20:.1f} MB free on its disk; a run needs at least "
                            f"{MIN_FREE_BYTES / 2**20:.0f} MB (errno {errno.ENOSPC}: no space left)")


class stop_on_sigint:
    """While training, Ctrl-C asks the trainer to stop at the end of the step in progress (it then saves the state);
    a second Ctrl-C stops at once."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum, frame):
        if self.trainer.stop_requested:
            raise KeyboardInterrupt
        self.trainer.stop_requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def train(config: TrainConfig, log=print, progress=True):
    """Train; returns (the generator to save, a ConditionalGenerator on the CPU; the trainer, for its logs)."""
    trainer = Trainer(config)
    return trainer.fit(log=log, progress=progress), trainer
