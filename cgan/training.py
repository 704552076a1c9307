"""The GAN training loop: a D step and a G step per batch, G's EMA, an epoch at a time; then the generator to save.

What it trains with is the recipe (cgan/recipe.py); the losses are cgan/objective.py's; a run's settings and its
state.pt, and what a resume may change, are cgan/run_state.py's; what each epoch shows and keeps, cgan/watch.py's.
A run folder holds the watch's files, `config.json`, `state.pt` (everything needed to resume, written atomically
after each epoch and at a Ctrl-C), and, from train.py, `generator/` in Hugging Face layout.
"""

import copy
import dataclasses
import json
import signal
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from cgan.data import ink_levels, load_mnist, to_model_range, validation_split
from cgan.device import describe, native_bf16, pick_device
from cgan.evaluate import choose_noise_scale
from cgan.generation import ConditionalGenerator
from cgan.models import (
    NUM_CLASSES,
    AuxiliaryClassifier,
    build_networks,
    reestimate_batchnorm,
    to_fast_layout,
)
from cgan.objective import (
    R1_EVERY,
    aux_term,
    d_loss_fn,
    ema_decay,
    g_loss_fn,
    make_optimizer,
    r1_penalty,
    r1_term,
    score_as_probability,
    update_ema,
)
from cgan.recipe import check_recipe
from cgan.run_state import (
    TrainConfig,
    TrainingError,
    TrainingInterrupted,
    load_state,
    new_run_config,
    prepare_folder,
    resume,
    save_state,
)
from cgan.watch import EpochWatch

__all__ = ["TrainConfig", "Trainer", "TrainingError", "TrainingInterrupted", "load_state", "train"]

PROGRESS_EVERY = 20  # steps between progress-bar updates (and checks for a NaN loss): each is a host sync on a GPU
STANDING_BATCHES = 100  # batches of G's own outputs its saved BatchNorm statistics are measured on


class Trainer:
    """One training run in one run folder."""

    def __init__(self, config: TrainConfig):
        self.out = Path(config.out)
        self.state_path = self.out / "state.pt"
        self.device = pick_device(config.device)
        self.resumed = resume(config, self.state_path, self.device.type) if config.resume else None
        config = self.resumed.config if self.resumed else new_run_config(config, self.device.type)
        check_recipe(config.arch, config.recipe)
        if isinstance(config.epochs, bool) or not isinstance(config.epochs, int) or config.epochs < 1:
            raise ValueError(f"epochs must be a whole number, 1 or more, got {config.epochs!r}")
        self.config = dataclasses.replace(config, compile=config.compile if config.compile is not None
                                          else self.device.type == "cuda",
                                          bf16=config.bf16 if config.bf16 is not None else native_bf16(self.device))
        self.check_precision()
        self.recipe = recipe = self.config.recipe
        # The run is the command that started it: a resume adds a time (and a change, where it asked for one).
        self.command = self.resumed.command if self.resumed else self.config.command
        self.resumes, self.changes = (self.resumed.resumes, self.resumed.changes) if self.resumed else ([], [])
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
        self.partial = None  # an epoch stopped by Ctrl-C: where it stopped, to go on from there
        self.watch = EpochWatch(self.out, self.config.seed, recipe.ink, self.G.z_dim)  # the per-epoch record
        self.validation_set = None
        self.ink_levels = None  # the training digits' full-ink levels (cgan.data.ink_levels), if the recipe wants
        self.stop_requested = False
        self.noise_choice = None  # the noise scales measured on the validation split at the end, and the one chosen

    def check_precision(self):
        if self.config.bf16 and self.device.type == "mps":
            raise ValueError("bf16 is for a CUDA GPU or a CPU; on mps train without it (--no-bf16)")
        if self.config.bf16 and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"bf16 was asked for, but {torch.cuda.get_device_name(self.device)} has no bf16: "
                             f"train without it (--no-bf16)")

    @property
    def final_G(self):
        """The generator the run keeps: the EMA when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    # --- the state: everything a resume needs, in state.pt ---------------------------------------------------------
    def state_dict(self):
        config = dataclasses.asdict(self.config)
        config["device_type"] = self.device.type
        networks = {"G": self.G, "D": self.D, "G_ema": self.G_ema, "C": self.C, "opt_G": self.opt_G,
                    "opt_D": self.opt_D, "opt_C": self.opt_C}
        return {
            "config": config, "epoch": self.epoch, "steps": self.steps,
            **{name: part.state_dict() if part is not None else None for name, part in networks.items()},
            "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(),
            "history": self.watch.history, "healthy": self.watch.healthy, "partial": self.partial,
            "changes": self.changes, "command": self.command, "resumes": self.resumes,
        }

    def load_state_dict(self, state):
        """Everything of a saved state, checked: a state of another network names the file and the mismatch."""
        parts = [(self.G, "G"), (self.D, "D"), (self.G_ema, "G_ema"), (self.opt_G, "opt_G"), (self.opt_D, "opt_D"),
                 (self.C, "C"), (self.opt_C, "opt_C")]
        try:
            for part, name in parts:
                if part is not None:
                    part.load_state_dict(state[name])
        except (KeyError, RuntimeError, ValueError, TypeError) as error:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            raise TrainingError(f"{self.state_path} does not match the networks of its own config "
                                f"({type(error).__name__}: {' '.join(lines[:2])}); it is damaged or was written by "
                                f"other code") from None
        self.epoch, self.steps, self.partial = state["epoch"], state["steps"], state["partial"]
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.watch.history, self.watch.healthy = state["history"], state["healthy"]

    def save_state(self):
        save_state(self.state_dict(), self.state_path)

    # --- one step ---------------------------------------------------------------------------------------------------
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

    # --- the run ----------------------------------------------------------------------------------------------------
    def fit(self, log=print, progress=True):
        prepare_folder(self.out)
        (self.out / "samples").mkdir(exist_ok=True)
        images, labels, reference = self.training_data()
        self.watch.start(reference, log)
        if self.resumed:
            self.load_state_dict(self.resumed.state)
            where = (f"in epoch {self.epoch + 1}, after step {self.partial['step']}" if self.partial
                     else f"after epoch {self.epoch}")
            log(f"resumed {self.state_path} {where}")
        # The whole set lives on the device as uint8 (47 MB); batches are sliced from it, no DataLoader.
        images, labels = images.to(self.device), labels.to(self.device)
        batch = min(self.recipe.batch_size, len(labels))  # a trial on fewer images than a batch trains on them all
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2, default=str))
        with stop_on_sigint(self):
            while self.epoch < self.config.epochs:
                self.train_epoch(images, labels, batch, progress)
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

    def set_learning_rates(self):
        """The rates for the coming epoch: the recipe's, times lr_drop_factor once lr_drop_epoch epochs are done.
        Set each epoch, so a resumed run (whose Adam state carries the old rates) gets them too."""
        recipe = self.recipe
        drop = recipe.lr_drop_factor if recipe.lr_drop_epoch is not None and self.epoch >= recipe.lr_drop_epoch else 1
        for optimizer, lr in ((self.opt_G, recipe.lr), (self.opt_D, recipe.lr * recipe.d_lr_ratio)):
            for group in optimizer.param_groups:
                group["lr"] = lr * drop

    def train_epoch(self, images, labels, batch, progress):
        """One epoch, or the rest of one that a Ctrl-C stopped; then the watch's record of it and the state."""
        self.set_learning_rates()
        self.G.train()
        self.D.train()
        steps = len(labels) // batch
        # An epoch a Ctrl-C stopped goes on where it stopped: the same order and noise, from the next step.
        partial = self.partial or {"step": 0, "rng": self.rng.get_state(), "sums": torch.zeros(4),
                                   "losses": torch.zeros(steps, 2), "seconds": 0.0}
        self.partial = None
        self.rng.set_state(partial["rng"])
        order = torch.randperm(len(labels), generator=self.rng).to(self.device)
        # The epoch's noise in one draw and one copy: a copy from the CPU each step would stall a GPU. The numbers are
        # the same as drawing each step's noise in turn (the generator's stream does not depend on the split).
        noise = torch.randn(steps, batch, self.G.z_dim, generator=self.rng).to(self.device)
        sums, losses = partial["sums"].to(self.device), partial["losses"].to(self.device)
        start = time.perf_counter()
        bar = tqdm(range(partial["step"], steps), desc=f"epoch {self.epoch + 1}/{self.config.epochs}", unit="step",
                   leave=False, disable=not progress, initial=partial["step"], total=steps)
        for step in bar:
            idx = order[step * batch:(step + 1) * batch]
            d_loss, g_loss, real_s, fake_s = self.train_step(to_model_range(images[idx], self.recipe.ink),
                                                             labels[idx], noise[step])
            losses[step] = torch.stack([d_loss, g_loss])
            sums += torch.stack([d_loss, g_loss, score_as_probability(self.recipe.loss, real_s, labels[idx]),
                                 score_as_probability(self.recipe.loss, fake_s, labels[idx])])
            if step % PROGRESS_EVERY == 0 or step == steps - 1 or self.stop_requested:
                self.check_finite(losses[: step + 1])
                bar.set_postfix(D=f"{d_loss.item():.3f}", G=f"{g_loss.item():.3f}")
            if self.stop_requested:
                self.partial = {**partial, "step": step + 1, "sums": sums.cpu(), "losses": losses.cpu(),
                                "seconds": partial["seconds"] + time.perf_counter() - start}
                self.save_state()
                raise TrainingInterrupted(f"stopped in epoch {self.epoch + 1} after step {step + 1}; "
                                          f"the state is saved in {self.state_path}")
        bar.close()
        self.epoch += 1
        self.watch.end_epoch(self.epoch, self.final_G, sums / steps, partial["seconds"] + time.perf_counter() - start)
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

    # --- what the run keeps -----------------------------------------------------------------------------------------
    def finish(self, log):
        """The generator to save, at the end of training or wherever it was stopped, with the loss curves drawn: the
        last one that was not collapsed (the final one, unless the end collapsed), its BatchNorm statistics measured
        again, at the noise scale that measures best on the validation split."""
        G = self.watch.finish(self.epoch, self.final_G)
        if self.G_ema is not None:
            standing_statistics(G, self.recipe.batch_size, self.config.seed)
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

    def record(self, seconds):
        """training.json: the command that made the model, what it trained with, what was chosen and what it cost. A
        run stopped and resumed is still its one command: the resumes are recorded as times, and a setting a resume
        changed as a change."""
        config = self.config
        record = {
            "command": self.command, "arch": config.arch, "budget": config.budget, "epochs": self.epoch,
            "seed": config.seed, "limit": config.limit, "recipe": dataclasses.asdict(self.recipe),
            "noise_scale": self.noise_choice["scale"] if self.noise_choice else 1.0,
            "minutes": sum(row["seconds"] for row in self.watch.history) / 60, "wall_minutes": seconds / 60,
            "device": self.device_name, "bf16": config.bf16,
        }
        if self.noise_choice:
            record["noise_scale_validation"] = {str(scale): {k: v for k, v in m.items() if not isinstance(v, list)}
                                                for scale, m in self.noise_choice["measured"].items()}
        if self.resumes:
            record["resumed"] = self.resumes
        if self.changes:
            record["changes"] = self.changes
        return record


def standing_statistics(G, batch_size, seed):
    """G's BatchNorm statistics measured again on its own outputs (BigGAN's "standing statistics"): an EMA generator
    carries the ones update_ema copied from G, measured on G's activations, which its averaged weights do not
    quite give."""
    rng = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    reestimate_batchnorm(G, ((torch.randn(batch_size, G.z_dim, generator=rng).to(device),
                              torch.randint(0, NUM_CLASSES, (batch_size,), generator=rng).to(device))
                             for _ in range(STANDING_BATCHES)))


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
