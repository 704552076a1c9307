"""The GAN being trained: G, D, G's EMA, the auxiliary classifier and their optimizers, and one training step.

A step is the objective of cgan/objective.py applied to these networks: D learns to tell real digits of a label
from G's fakes of it, then G learns to make D take its fakes for real ones. The trainer (cgan/training.py) feeds it
batches and keeps the run; this module keeps the networks.
"""

import copy

import torch
import torch.nn.functional as F

from cgan.models import AuxiliaryClassifier, build_networks, to_fast_layout
from cgan.objective import (
    R1_EVERY,
    aux_term,
    d_loss_fn,
    ema_decay,
    g_loss_fn,
    make_optimizer,
    r1_penalty,
    r1_term,
    update_ema,
)
from cgan.run_state import TrainingError

PARTS = ("G", "D", "G_ema", "C", "opt_G", "opt_D", "opt_C")  # what a state holds, by these names


class Gan:
    """The networks and optimizers of one run, on `device`, built from `recipe` with torch's global seed as set."""

    def __init__(self, arch, recipe, device, autocast=False, compile=False):
        self.recipe, self.device, self.autocast = recipe, device, autocast
        self.G, self.D = build_networks(arch, recipe.output, recipe.size, recipe.deep_d, recipe.d_size,
                                        recipe.d_stem, recipe.g_fine)
        self.G.to(device)
        self.D.to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if recipe.ema_decay else None
        # The auxiliary classifier has its own fixed-rate optimizer: it learns a plain supervised task, which needs
        # neither the GAN's TTUR rates nor their drop.
        self.C, self.opt_C = None, None
        if recipe.aux_weight:
            self.C = AuxiliaryClassifier().to(device)
            self.opt_C = torch.optim.Adam(self.C.parameters(), lr=1e-3, betas=(0.5, 0.999))
        if autocast:
            # oneDNN's bf16 kernels work channels-last (to_fast_layout changes a CPU's only): D and the classifier in
            # that layout made a bf16 step of the CPU recipe 1.08x faster again (docs/training-notes.md); G in it too
            # did not pay (a scratch timing). G, and so its EMA, which is saved, keeps the plain layout.
            for network in (self.D, self.C):
                if network is not None:
                    to_fast_layout(network, device)
        if compile:
            # In place (Module.compile), so state_dict keys and the EMA (copied above, never compiled) are unchanged.
            # On a GPU this fuses the many small element-wise kernels; on a CPU the first steps pay for compilation.
            for network in (self.G, self.D, self.C):
                if network is not None:
                    network.compile()
        self.opt_G = make_optimizer(recipe, self.G.parameters(), recipe.lr, device)
        self.opt_D = make_optimizer(recipe, self.D.parameters(), recipe.lr * recipe.d_lr_ratio, device)
        self.steps = 0

    @property
    def final_G(self):
        """The generator the run keeps: the EMA when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    def set_learning_rates(self, epoch):
        """The rates for epoch `epoch` + 1: the recipe's, times lr_drop_factor once lr_drop_epoch epochs are done.
        Set each epoch, so a resumed run (whose Adam state carries the old rates) gets them too."""
        recipe = self.recipe
        drop = recipe.lr_drop_factor if recipe.lr_drop_epoch is not None and epoch >= recipe.lr_drop_epoch else 1
        for optimizer, lr in ((self.opt_G, recipe.lr), (self.opt_D, recipe.lr * recipe.d_lr_ratio)):
            for group in optimizer.param_groups:
                group["lr"] = lr * drop

    def step(self, real, labels, z):
        """One D step and one G step on a batch of real digits, with G's noise `z` (on the device): (D's loss, G's
        loss, D's scores of the real digits, of the fakes), detached."""
        recipe = self.recipe
        # Networks run under autocast (bf16); losses in fp32 outside it, where BCE is allowed.
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            # (1) D step: real digits of their label vs. fakes of the same labels (G gets the label too).
            fake = self.G(z, labels)
            real_scores = self.D(real, labels)
            fake_scores = self.D(fake.detach(), labels)
            real_logits = self.C(real) if self.C is not None else None
        d_loss = d_loss_fn(recipe.loss, real_scores.float(), fake_scores.float(), labels)
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
        g_loss = g_loss_fn(recipe.loss, g_scores.float(), labels)
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

    def train(self):
        self.G.train()
        self.D.train()

    def state_dict(self):
        return {"steps": self.steps, **{name: part.state_dict() if part is not None else None
                                        for name, part in self.parts()}}

    def load_state_dict(self, state, path):
        """Everything of a saved state, checked: a state of other networks names `path` and the mismatch."""
        try:
            for name, part in self.parts():
                if part is not None:
                    part.load_state_dict(state[name])
        except (KeyError, RuntimeError, ValueError, TypeError) as error:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            raise TrainingError(f"{path} does not match the networks of its own config ({type(error).__name__}: "
                             f"{' '.join(lines[:2])}); it is damaged or was written by other code") from None
        self.steps = state["steps"]

    def parts(self):
        return [(name, getattr(self, name)) for name in PARTS]
