"""The GAN training loop: D step, G step, EMA, per-epoch artifacts and resumable state.

A run folder holds:
  samples/epoch_NNN.png   10x10 grid, a row per digit, the same noise every epoch
  metrics.jsonl           one line per epoch: losses, mean D(x), mean D(G(z)), diversity, seconds
  state.pt                everything needed to resume (written atomically each epoch)
  losses.png, d_scores.png   the curves, at the end (losses beside the collapse signal; mean D outputs)
  generator/              the trained generator in Hugging Face layout (config.json, model.safetensors, README.md)
"""

import copy
import dataclasses
import json
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from cgan.data import DEFAULT_DATA_DIR, load_mnist, to_model_range, validation_split
from cgan.generation import ConditionalGenerator
from cgan.models import DEFAULT_ARCH, NUM_CLASSES, AuxiliaryClassifier, build_networks, check_arch, default_deep_d
from cgan.plots import save_grid, save_training_curves
from cgan.diversity import DiversityProbe


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one architecture is trained; the defaults of `python train.py --arch NAME`."""

    loss: str  # "hinge", "nonsaturating" or "seed" (the report's BCE on 10 sigmoid outputs)
    optimizer: str  # "adam" or "sgd"
    lr: float  # generator learning rate; D uses lr * d_lr_ratio
    d_lr_ratio: float
    betas: tuple
    epochs: int  # sized to the 15-minute CPU budget
    batch_size: int
    ema_decay: float  # 0 disables the EMA generator
    size: str = "small"  # the network size (cgan.models.SIZES)
    cuda_epochs: int | None = None  # on a CUDA GPU, where epochs are cheap; None: the same as `epochs`
    cuda_size: str | None = None  # on a CUDA GPU; None: the same as `size`


RECIPES = {
    # Hinge loss, TTUR (D at 4x G's rate), Adam without momentum: see docs/training-notes.md for the measurements.
    # On a GPU, where epochs are cheap, the large networks for 30 epochs (about 8 minutes on an H200): they measured
    # better than the small ones on every metric, and recall was still rising at 29; docs/training-notes.md.
    "dcgan": Recipe(loss="hinge", optimizer="adam", lr=8e-4, d_lr_ratio=4.0, betas=(0.0, 0.9), epochs=10,
                    batch_size=64, ema_decay=0.999, cuda_epochs=30, cuda_size="large"),
    # The report's recipe (SGD, BCE on 10 sigmoid outputs). Two epochs take as long on a CPU as the default's ten.
    "seed": Recipe(loss="seed", optimizer="sgd", lr=0.05, d_lr_ratio=1.0, betas=(0.5, 0.0), epochs=2,
                   batch_size=64, ema_decay=0.0),
}


@dataclasses.dataclass
class TrainConfig:
    arch: str = DEFAULT_ARCH
    size: str | None = None  # None: the recipe's for the device
    deep_d: bool | None = None  # D with a 3x3 conv after each downsampling; None: D's size's default
    d_size: str | None = None  # D's size (dcgan); None: the same as G's
    loss: str | None = None  # None: the recipe's; dcgan also trains with "nonsaturating"
    r1_gamma: float = 0.0  # weight of the R1 gradient penalty on real digits (dcgan); 0: none
    aux_weight: float = 0.0  # weight of the auxiliary classifier's cross-entropy in G's loss (dcgan); 0: none
    lr_drop_epoch: int | None = None  # after this many epochs, both learning rates times lr_drop_factor; None: never
    lr_drop_factor: float = 0.25
    output: str = "tanh"  # G's last activation (cgan.models.OUTPUTS)
    validation: bool = True  # hold out the validation split (cgan.data.validation_split) from training
    epochs: int | None = None  # None: the recipe's
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    out: str = "runs/default"
    data_dir: str = DEFAULT_DATA_DIR
    mnist_dir: str | None = None
    limit: int | None = None  # train on the first `limit` images only (smoke tests)
    resume: bool = False
    compile: bool | None = None  # torch.compile G and D; None: on a CUDA GPU only

    def resolved(self, device_type="cpu"):
        """A copy with every None filled from the architecture's recipe, for training on `device_type`."""
        recipe = RECIPES[self.arch]
        cuda = device_type == "cuda"
        size = self.size or (cuda and recipe.cuda_size) or recipe.size
        d_size = self.d_size or (size if self.arch == "dcgan" else None)
        return dataclasses.replace(
            self,
            size=size,
            d_size=d_size,
            deep_d=self.deep_d if self.deep_d is not None else default_deep_d(self.arch, d_size or size),
            loss=self.loss or recipe.loss,
            epochs=self.epochs or (cuda and recipe.cuda_epochs) or recipe.epochs,
            batch_size=self.batch_size or recipe.batch_size,
            lr=self.lr or recipe.lr,
            compile=self.compile if self.compile is not None else cuda,
        )


DCGAN_LOSSES = ("hinge", "nonsaturating")


def check_loss(arch, loss, r1_gamma, aux_weight=0.0):
    """ValueError naming the problem unless `loss` (None: the recipe's), `r1_gamma` and `aux_weight` suit `arch`."""
    if arch == "seed" and loss not in (None, "seed"):
        raise ValueError(f"the seed architecture keeps the report's loss; --loss is for dcgan, got {loss!r}")
    if arch == "dcgan" and loss not in (None, *DCGAN_LOSSES):
        raise ValueError(f"loss must be one of {', '.join(DCGAN_LOSSES)} for dcgan, got {loss!r}")
    if not (math.isfinite(r1_gamma) and r1_gamma >= 0):
        raise ValueError(f"r1_gamma must be 0 or more, got {r1_gamma}")
    if arch == "seed" and r1_gamma:
        raise ValueError("the seed architecture keeps the report's loss; the R1 penalty is for dcgan")
    if not (isinstance(aux_weight, (int, float)) and math.isfinite(aux_weight) and aux_weight >= 0):
        raise ValueError(f"aux_weight must be 0 or more, got {aux_weight}")
    if arch == "seed" and aux_weight:
        raise ValueError("the seed architecture keeps the report's loss; the auxiliary classifier is for dcgan")


def check_lr_drop(epoch, factor):
    """ValueError naming the problem unless the learning-rate drop is after a whole number of epochs (0 or more)
    and shrinks the rates (0 < factor <= 1)."""
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0):
        raise ValueError(f"lr_drop_epoch must be a whole number of epochs, 0 or more, got {epoch!r}")
    if not (isinstance(factor, (int, float)) and 0 < factor <= 1):
        raise ValueError(f"lr_drop_factor must be more than 0 and at most 1, got {factor!r}")


def pick_device(name):
    if name != "auto":
        if name == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but no CUDA GPU is available; use --device auto or cpu")
        if name == "mps" and not torch.backends.mps.is_available():
            raise ValueError("device 'mps' was asked for but MPS is not available; use --device auto or cpu")
        if name not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device must be auto, cpu, cuda or mps, got {name!r}")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# --- losses: each returns (loss, mean D(x) or D(G(z)) as a probability, for the logs) ---------------------------


def d_loss_fn(loss, real_scores, fake_scores, labels):
    if loss == "hinge":
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
    if loss == "nonsaturating":
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
    # seed: BCE of the 10 sigmoid outputs against the one-hot label (real) and against zeros (fake).
    target = F.one_hot(labels, NUM_CLASSES).float()
    return F.binary_cross_entropy(real_scores, target) + F.binary_cross_entropy(fake_scores, torch.zeros_like(target))


def g_loss_fn(loss, fake_scores, labels):
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


def make_optimizer(recipe, params, lr, device):
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.betas[0])
    # The fused kernel is one launch per step instead of one per tensor: worth it on a GPU only.
    return torch.optim.Adam(params, lr=lr, betas=recipe.betas, fused=device.type == "cuda")


def update_ema(ema, model, decay):
    # One multi-tensor kernel for all the weights rather than one launch per tensor: a GPU step is launch-bound.
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
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Trainer:
    """One training run in one run folder."""

    def __init__(self, config: TrainConfig):
        self.resume_state = None
        if config.resume:
            state_path = Path(config.out) / "state.pt"
            if not state_path.exists():
                raise FileNotFoundError(f"--resume: no {state_path} to resume from; start without --resume")
            self.resume_state = torch.load(state_path, map_location="cpu", weights_only=True)
            # A resumed run keeps its own settings; only --epochs may change, to extend it, and a learning-rate drop
            # may be given anew, to end it at a lower rate. Runs saved before sizes existed were small, and before
            # the loss options they trained with the recipe's loss and no R1.
            saved = {"size": "small", "deep_d": None, "d_size": None, "loss": None, "r1_gamma": 0.0, "aux_weight": 0.0,
                     "lr_drop_epoch": None, "lr_drop_factor": 0.25, **self.resume_state["config"]}
            keep = ["arch", "size", "deep_d", "d_size", "loss", "r1_gamma", "aux_weight", "batch_size", "lr", "seed",
                    "limit"]
            if config.lr_drop_epoch is None:
                keep += ["lr_drop_epoch", "lr_drop_factor"]
            config = dataclasses.replace(config, epochs=config.epochs or saved["epochs"],
                                         **{key: saved[key] for key in keep})
        check_arch(config.arch, config.size or "small", config.deep_d, config.d_size)
        check_loss(config.arch, config.loss, config.r1_gamma, config.aux_weight)
        check_lr_drop(config.lr_drop_epoch, config.lr_drop_factor)
        self.device = pick_device(config.device)
        self.config = config.resolved(self.device.type)
        self.recipe = RECIPES[self.config.arch]
        self.out = Path(self.config.out)
        self.device_name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else self.device.type
        # bf16 autocast only pays on a GPU; on CPU fp32 is both faster and exact.
        self.autocast = self.device.type == "cuda" and torch.cuda.is_bf16_supported()

        torch.manual_seed(self.config.seed)
        self.G, self.D = build_networks(self.config.arch, self.config.size, self.config.deep_d, self.config.d_size,
                                        self.config.output)
        self.G.to(self.device)
        self.D.to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if self.recipe.ema_decay else None
        # The auxiliary classifier has its own fixed-rate optimizer: it learns a plain supervised task, which needs
        # neither the GAN's TTUR rates nor their drop.
        self.C, self.opt_C = None, None
        if self.config.aux_weight:
            self.C = AuxiliaryClassifier().to(self.device)
            self.opt_C = torch.optim.Adam(self.C.parameters(), lr=1e-3, betas=(0.5, 0.999))
        if self.config.compile:
            # In place (Module.compile), so state_dict keys and the EMA (copied above, never compiled) are unchanged.
            # On a GPU this fuses the many small element-wise kernels; on a CPU the first steps pay for compilation.
            for network in (self.G, self.D, self.C):
                if network is not None:
                    network.compile()
        lr = self.config.lr
        self.opt_G = make_optimizer(self.recipe, self.G.parameters(), lr, self.device)
        self.opt_D = make_optimizer(self.recipe, self.D.parameters(), lr * self.recipe.d_lr_ratio, self.device)
        # All of the run's randomness (batch order, noise) comes from this CPU generator, saved with the state.
        self.rng = torch.Generator().manual_seed(self.config.seed)
        self.epoch = 0
        self.steps = 0
        self.history = []
        self.healthy = None  # (epoch, generator weights) of the last epoch that was not collapsed

        fixed = torch.Generator().manual_seed(1234)
        # One noise vector per column, repeated down the rows: a row per digit, the same "style" per column.
        self.grid_noise = torch.randn(NUM_CLASSES, self.G.z_dim, generator=fixed).repeat(NUM_CLASSES, 1)
        self.grid_labels = torch.arange(NUM_CLASSES).repeat_interleave(NUM_CLASSES)

    # --- the generator the run keeps: the EMA when there is one ----------------------------------------------------
    @property
    def final_G(self):
        return self.G_ema if self.G_ema is not None else self.G

    def state_dict(self):
        return {
            "config": dataclasses.asdict(self.config),
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
        }

    def set_learning_rates(self):
        """The rates for the coming epoch: the config's, times lr_drop_factor once lr_drop_epoch epochs are done.
        Set from the config each epoch, so a resumed run (whose Adam state carries the old rates) gets them too."""
        cfg = self.config
        drop = cfg.lr_drop_factor if cfg.lr_drop_epoch is not None and self.epoch >= cfg.lr_drop_epoch else 1.0
        for optimizer, lr in ((self.opt_G, cfg.lr), (self.opt_D, cfg.lr * self.recipe.d_lr_ratio)):
            for group in optimizer.param_groups:
                group["lr"] = lr * drop

    def load_state_dict(self, state):
        self.epoch = state["epoch"]
        self.steps = state["steps"]
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.history = state["history"]
        self.healthy = state["healthy"]
        if self.C is not None:
            self.C.load_state_dict(state["C"])
            self.opt_C.load_state_dict(state["opt_C"])

    # --- one step -----------------------------------------------------------------------------------------------------
    def train_step(self, real, labels, z):
        """One D step and one G step on a batch of real digits, with G's noise `z` (on the device)."""
        loss = self.config.loss
        # Networks run under autocast (bf16 on a GPU); losses in fp32 outside it, where BCE is allowed.
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            # (1) D step: real digits of their label vs. fakes of the same labels (G gets the label too).
            fake = self.G(z, labels)
            real_scores = self.D(real, labels)
            fake_scores = self.D(fake.detach(), labels)
            real_logits = self.C(real) if self.C is not None else None
        d_loss = d_loss_fn(loss, real_scores.float(), fake_scores.float(), labels)
        d_total = d_loss
        if self.config.r1_gamma and self.steps % R1_EVERY == 0:
            d_total = d_loss + self.config.r1_gamma / 2 * R1_EVERY * r1_penalty(self.D, real, labels)
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
            g_total = g_loss + self.config.aux_weight * F.cross_entropy(fake_logits.float(), labels)
        self.opt_G.zero_grad(set_to_none=True)
        g_total.backward()
        for net in judges:
            net.requires_grad_(True)
        self.opt_G.step()
        self.steps += 1
        if self.G_ema is not None:
            # Warm-up: early on the EMA follows G closely, so it is not dragged back to the random init.
            update_ema(self.G_ema, self.G, min(self.recipe.ema_decay, (1 + self.steps) / (10 + self.steps)))
        return d_loss.detach(), g_loss.detach(), real_scores.detach(), fake_scores.detach()

    # --- the run --------------------------------------------------------------------------------------------------------
    def fit(self, log=print, progress=True):
        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "samples").mkdir(exist_ok=True)
        state_path = self.out / "state.pt"
        if self.resume_state is not None:
            self.load_state_dict(self.resume_state)
            log(f"resumed {state_path} after epoch {self.epoch}")

        images, labels = load_mnist(train=True, data_dir=cfg.data_dir, mnist_dir=cfg.mnist_dir)
        reference = images, labels  # the real digits the collapse probe compares with
        if cfg.validation:
            train_idx, val_idx = validation_split(labels)
            self.validation_set = reference = images[val_idx], labels[val_idx]
            images, labels = images[train_idx], labels[train_idx]
        if cfg.limit:
            images, labels = images[: cfg.limit], labels[: cfg.limit]
        # The whole set lives on the device as uint8 (47 MB); batches are sliced from it, no DataLoader.
        images, labels = images.to(self.device), labels.to(self.device)
        probe = DiversityProbe(*reference, seed=cfg.seed)
        n = len(labels)
        steps = max(1, n // cfg.batch_size)
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))

        while self.epoch < cfg.epochs:
            self.set_learning_rates()
            self.G.train()
            self.D.train()
            start = time.perf_counter()
            order = torch.randperm(n, generator=self.rng).to(self.device)
            # The epoch's noise in one draw and one copy: a copy from the CPU each step would stall a GPU. The numbers
            # are the same as drawing each step's noise in turn (the generator's stream does not depend on the split).
            noise = torch.randn(steps, cfg.batch_size, self.G.z_dim, generator=self.rng).to(self.device)
            sums = torch.zeros(4, device=self.device)
            bar = tqdm(range(steps), desc=f"epoch {self.epoch + 1}/{cfg.epochs}", unit="step", leave=False,
                       disable=not progress)
            for step in bar:
                idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                d_loss, g_loss, real_s, fake_s = self.train_step(to_model_range(images[idx]), labels[idx], noise[step])
                sums += torch.stack([d_loss, g_loss,
                                     score_as_probability(cfg.loss, real_s, labels[idx]),
                                     score_as_probability(cfg.loss, fake_s, labels[idx])])
                if step % 20 == 0:
                    bar.set_postfix(D=f"{d_loss.item():.3f}", G=f"{g_loss.item():.3f}")
            bar.close()
            seconds = time.perf_counter() - start
            self.epoch += 1
            self.end_epoch(sums / steps, seconds, probe, log)
            atomic_save(self.state_dict(), state_path)

        save_training_curves(self.history, self.out)
        return self.finish(log)

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
        """Save the last generator that was not collapsed (the final one, unless the end collapsed)."""
        G = self.final_G
        if self.healthy is None:
            log("WARNING: every epoch looked collapsed; saving the final generator anyway")
        elif self.healthy["epoch"] != self.epoch:
            log(f"WARNING: the final generator is collapsed; saving epoch {self.healthy['epoch']}'s instead")
            G.load_state_dict(self.healthy["weights"])
        if self.G_ema is not None:
            refresh_batchnorm_stats(G, self.config.batch_size, seed=self.config.seed)
        model = ConditionalGenerator(arch=self.config.arch, size=self.config.size, output=self.config.output)
        model.net.load_state_dict(G.state_dict())
        return model.cpu().eval()


def train(config: TrainConfig, log=print, progress=True):
    """Train; returns (the generator to save, a ConditionalGenerator on the CPU; the trainer, for its logs)."""
    trainer = Trainer(config)
    return trainer.fit(log=log, progress=progress), trainer
