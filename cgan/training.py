"""The GAN training loop: a D step and a G step per batch, G's EMA, an epoch at a time; then the generator to save.

What it trains with is the recipe (cgan/recipe.py); the losses are cgan/objective.py's; a run's settings and its
state.pt, and what a resume may change, are cgan/run_state.py's; what each epoch shows and keeps, cgan/watch.py's.
The networks, their optimizers and one step of the objective are cgan/gan.py's. A run folder holds the watch's files, `config.json`, `state.pt` (everything needed to resume, written atomically
after each epoch and at a Ctrl-C), and, from train.py, `generator/` in Hugging Face layout.
"""

import dataclasses
import json
import signal
import threading
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from cgan.checks import check_int
from cgan.data import ink_levels, load_mnist, to_model_range, validation_split
from cgan.device import check_bf16, describe, native_bf16, pick_device
from cgan.evaluate import choose_noise_scale
from cgan.gan import Gan
from cgan.generation import ConditionalGenerator
from cgan.models import NUM_CLASSES, reestimate_batchnorm
from cgan.objective import score_as_probability
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

__all__ = ["TrainConfig", "Trainer", "TrainingError", "TrainingInterrupted", "load_state", "run_record", "train"]

PROGRESS_EVERY = 20  # steps between progress-bar updates (and checks for a NaN loss): each is a host sync on a GPU
STANDING_BATCHES = 100  # batches of G's own outputs its saved BatchNorm statistics are measured on


class Trainer:
    """One training run in one run folder: the GAN (cgan/gan.py) trained an epoch at a time, its state saved after
    each; then the generator to save (saved_generator) and the run's record (run_record)."""

    def __init__(self, config: TrainConfig):
        self.out = Path(config.out)
        self.state_path = self.out / "state.pt"
        self.device = pick_device(config.device)
        self.resumed = resume(config, self.state_path, self.device.type) if config.resume else None
        config = self.resumed.config if self.resumed else new_run_config(config, self.device.type)
        check_recipe(config.arch, config.recipe)
        check_int("epochs", config.epochs, 1)
        self.config = dataclasses.replace(config, compile=config.compile if config.compile is not None
                                          else self.device.type == "cuda",
                                          bf16=config.bf16 if config.bf16 is not None else native_bf16(self.device))
        check_bf16(self.device, self.config.bf16)
        self.recipe = self.config.recipe
        # The run is the command that started it: a resume adds a time (and a change, where it asked for one).
        self.command = self.resumed.command if self.resumed else self.config.command
        self.resumes, self.changes = (self.resumed.resumes, self.resumed.changes) if self.resumed else ([], [])
        self.device_name = describe(self.device)
        torch.manual_seed(self.config.seed)
        self.gan = Gan(self.config.arch, self.recipe, self.device, self.config.bf16, self.config.compile)
        # All of the run's randomness (batch order, noise) comes from this CPU generator, saved with the state.
        self.rng = torch.Generator().manual_seed(self.config.seed)
        self.epoch = 0
        self.partial = None  # an epoch stopped by Ctrl-C: where it stopped, to go on from there
        self.watch = EpochWatch(self.out, self.config.seed, self.recipe.ink, self.gan.G.z_dim)  # the per-epoch record
        self.validation_set = None  # the held-out training digits, where the recipe holds some out
        self.ink_levels = None  # the training digits' full-ink levels (cgan.data.ink_levels), if the recipe wants
        self.stop_requested = False
        self.deadline = None  # fit's `minutes`, as a time.perf_counter()
        self.noise_choice = None  # the noise scales measured on the validation split at the end, and the one chosen

    # --- the state: everything a resume needs, in state.pt ---------------------------------------------------------
    def state_dict(self):
        config = dataclasses.asdict(self.config)
        config["device_type"] = self.device.type
        return {"config": config, "epoch": self.epoch, **self.gan.state_dict(), "rng": self.rng.get_state(),
                "torch_rng": torch.get_rng_state(), "history": self.watch.history, "healthy": self.watch.healthy,
                "partial": self.partial, "changes": self.changes, "command": self.command, "resumes": self.resumes}

    def load_state_dict(self, state):
        self.gan.load_state_dict(state, self.state_path)
        self.epoch, self.partial = state["epoch"], state["partial"]
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.watch.history, self.watch.healthy = state["history"], state["healthy"]

    def save_state(self):
        save_state(self.state_dict(), self.state_path)

    # --- the run ----------------------------------------------------------------------------------------------------
    def fit(self, log=print, progress=True, minutes=None):
        """Train to the config's epochs, then the generator to save (saved_generator). Ctrl-C, or `minutes` of
        training passing, stops the run at the end of the step in progress, saves its state and raises
        TrainingInterrupted."""
        self.deadline = time.perf_counter() + 60 * minutes if minutes else None
        prepare_folder(self.out)
        (self.out / "samples").mkdir(exist_ok=True)
        images, labels, reference = training_data(self.config)
        self.validation_set = reference if self.recipe.validation else None
        self.ink_levels = ink_levels(images) if self.recipe.ink_levels else None
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
        return saved_generator(self, log)

    def train_epoch(self, images, labels, batch, progress):
        """One epoch, or the rest of one that a Ctrl-C stopped; then the watch's record of it and the state."""
        self.gan.set_learning_rates(self.epoch)
        self.gan.train()
        steps = len(labels) // batch
        # An epoch a Ctrl-C stopped goes on where it stopped: the same order and noise, from the next step.
        partial = self.partial or {"step": 0, "rng": self.rng.get_state(), "sums": torch.zeros(4),
                                   "losses": torch.zeros(steps, 2), "seconds": 0.0}
        self.partial = None
        self.rng.set_state(partial["rng"])
        order = torch.randperm(len(labels), generator=self.rng).to(self.device)
        # The epoch's noise in one draw and one copy: a copy from the CPU each step would stall a GPU. The numbers are
        # the same as drawing each step's noise in turn (the generator's stream does not depend on the split).
        noise = torch.randn(steps, batch, self.gan.G.z_dim, generator=self.rng).to(self.device)
        sums, losses = partial["sums"].to(self.device), partial["losses"].to(self.device)
        start = time.perf_counter()
        bar = tqdm(range(partial["step"], steps), desc=f"epoch {self.epoch + 1}/{self.config.epochs}", unit="step",
                   leave=False, disable=not progress, initial=partial["step"], total=steps)
        for step in bar:
            idx = order[step * batch:(step + 1) * batch]
            d_loss, g_loss, real_s, fake_s = self.gan.step(to_model_range(images[idx], self.recipe.ink), labels[idx],
                                                           noise[step])
            losses[step] = torch.stack([d_loss, g_loss])
            sums += torch.stack([d_loss, g_loss, score_as_probability(self.recipe.loss, real_s, labels[idx]),
                                 score_as_probability(self.recipe.loss, fake_s, labels[idx])])
            if self.deadline is not None and time.perf_counter() >= self.deadline:
                self.stop_requested = True
            if step % PROGRESS_EVERY == 0 or step == steps - 1 or self.stop_requested:
                check_finite(losses[: step + 1], self.epoch, self.state_path)
                bar.set_postfix(D=f"{d_loss.item():.3f}", G=f"{g_loss.item():.3f}")
            if self.stop_requested:
                self.partial = {**partial, "step": step + 1, "sums": sums.cpu(), "losses": losses.cpu(),
                                "seconds": partial["seconds"] + time.perf_counter() - start}
                self.save_state()
                raise TrainingInterrupted(f"stopped in epoch {self.epoch + 1} after step {step + 1}; "
                                          f"the state is saved in {self.state_path}")
        bar.close()
        self.epoch += 1
        self.watch.end_epoch(self.epoch, self.gan.final_G, sums / steps,
                             partial["seconds"] + time.perf_counter() - start)
        self.save_state()


def training_data(config):
    """(images, labels) to train on, and (images, labels) of the real digits the collapse probe compares with: with
    the recipe's validation split, the training part and the held-out digits (which the noise scale is chosen on);
    else all of the training set. `limit` keeps the first images of the training part only."""
    images, labels = load_mnist(train=True, data_dir=config.data_dir, mnist_dir=config.mnist_dir)
    reference = images, labels
    if config.recipe.validation:
        train_idx, val_idx = validation_split(labels)
        reference = images[val_idx], labels[val_idx]
        images, labels = images[train_idx], labels[train_idx]
    if config.limit:
        images, labels = images[: config.limit], labels[: config.limit]
    return images, labels, reference


def check_finite(losses, epoch, state_path):
    """TrainingError naming the epoch and step where a loss of epoch `epoch` + 1 first became NaN or infinite. Nothing
    of this epoch is saved: state.pt keeps the last good epoch."""
    bad = (~torch.isfinite(losses)).any(dim=1).nonzero()
    if len(bad):
        step = int(bad[0]) + 1
        which = "D" if not torch.isfinite(losses[step - 1, 0]) else "G"
        kept = f"{state_path} keeps epoch {epoch}" if epoch else "no state was saved (it was the first epoch)"
        raise TrainingError(f"{which}'s loss became {losses[step - 1].tolist()[which == 'G']} in epoch {epoch + 1}, "
                            f"step {step}: training diverged. {kept}; no generator was saved from the broken weights")


# --- what the run keeps ---------------------------------------------------------------------------------------------
def saved_generator(trainer, log):
    """The generator to save, at the end of training or wherever it was stopped, with the loss curves drawn: the last
    one that was not collapsed (the final one, unless the end collapsed), its BatchNorm statistics measured again, at
    the noise scale that measures best on the validation split."""
    recipe = trainer.recipe
    G = trainer.watch.finish(trainer.epoch, trainer.gan.final_G)
    if trainer.gan.G_ema is not None:
        standing_statistics(G, recipe.batch_size, trainer.config.seed)
    model = ConditionalGenerator.for_recipe(trainer.config.arch, recipe, trainer.ink_levels)
    model.net.load_state_dict(G.state_dict())
    model = model.cpu().eval()
    if recipe.noise_scales and trainer.validation_set is not None:
        model = with_chosen_noise_scale(trainer, model, log)
    return model


def with_chosen_noise_scale(trainer, model, log):
    """The model at the noise scale of recipe.noise_scales whose digits come closest to the validation digits
    (cgan.evaluate.choose_noise_scale); the test set is never looked at."""
    try:
        scale, measured = choose_noise_scale(model, *trainer.validation_set, trainer.recipe.noise_scales,
                                             seed=trainer.config.seed, device=trainer.device)
    except OSError as error:  # no evaluation classifier on disk: keep the plain scale
        log(f"warning: the noise scale was not chosen ({error}); the generator samples at scale 1")
        return model
    trainer.noise_choice = {"scale": scale, "measured": measured}
    log("noise scale, by the mean per-digit FD on the validation split: " +
        ", ".join(f"{s:g}: {m['fd_per_digit']:.3f}" for s, m in measured.items()) + f"; chose {scale:g}")
    return model.with_noise_scale(scale)


def run_record(trainer, seconds):
    """training.json: the command that made the model, what it trained with, what was chosen and what it cost. A run
    stopped and resumed is still its one command: the resumes are recorded as times, and a setting a resume changed
    as a change."""
    config, choice = trainer.config, trainer.noise_choice
    record = {
        "command": trainer.command, "arch": config.arch, "budget": config.budget, "epochs": trainer.epoch,
        "seed": config.seed, "limit": config.limit, "recipe": dataclasses.asdict(trainer.recipe),
        "noise_scale": choice["scale"] if choice else 1.0,
        "minutes": sum(row["seconds"] for row in trainer.watch.history) / 60, "wall_minutes": seconds / 60,
        "device": trainer.device_name, "bf16": config.bf16,
    }
    if choice:
        record["noise_scale_validation"] = {str(scale): {k: v for k, v in m.items() if not isinstance(v, list)}
                                            for scale, m in choice["measured"].items()}
    if trainer.resumes:
        record["resumed"] = trainer.resumes
    if trainer.changes:
        record["changes"] = trainer.changes
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
