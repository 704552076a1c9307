"""What a run shows and keeps after each epoch: the sample grid, the collapse probe, the metrics line, and the last
generator that was not collapsed, to save should the end collapse.

A run folder gets:
  samples/epoch_NNN.png   10x10 grid, a row per digit, the same noise every epoch
  metrics.jsonl           one line per epoch: losses, mean D(x), mean D(G(z)), diversity, seconds
  losses.png, d_scores.png   the curves, at the end (losses beside the collapse signal; mean D outputs)
"""

import copy
import json

import torch

from cgan.diversity import DiversityProbe
from cgan.models import NUM_CLASSES
from cgan.plots import save_grid, save_training_curves

GRID_SEED = 1234


class EpochWatch:
    """The per-epoch record of a run in `out`: `history` (a row per epoch) and `healthy` (the epoch and generator
    weights of the last epoch that was not collapsed), both saved with the run's state."""

    def __init__(self, out, seed, ink, z_dim):
        self.out, self.seed, self.ink = out, seed, ink
        self.probe, self.log = None, print
        self.history = []
        self.healthy = None
        fixed = torch.Generator().manual_seed(GRID_SEED)
        # One noise vector per column, repeated down the rows: a row per digit, the same "style" per column.
        self.grid_noise = torch.randn(NUM_CLASSES, z_dim, generator=fixed).repeat(NUM_CLASSES, 1)
        self.grid_labels = torch.arange(NUM_CLASSES).repeat_interleave(NUM_CLASSES)

    def start(self, reference, log=print):
        """Before the first epoch: the real digits (images, labels) the collapse probe compares with, and the log."""
        self.probe = DiversityProbe(*reference, seed=self.seed, ink=self.ink)
        self.log = log

    @torch.no_grad()
    def grid(self, G, noise_scale=1.0):
        """G's drawing of the grid's digits, float (100, 1, 28, 28) on the CPU."""
        device = next(G.parameters()).device
        return G(self.grid_noise.to(device) * noise_scale, self.grid_labels.to(device)).float().cpu()

    def end_epoch(self, epoch, G, means, seconds):
        """After epoch `epoch`: G's grid, its diversity, the metrics line and its log line, the warnings; G's weights
        kept if it is not collapsed."""
        G.eval()
        save_grid(self.grid(G), self.out / "samples" / f"epoch_{epoch:03d}.png", nrow=NUM_CLASSES)
        diversity = self.probe.measure(G, next(G.parameters()).device)
        falling = self.probe.falling(self.history, diversity)
        d_loss, g_loss, d_real, d_fake = means.tolist()
        row = {"epoch": epoch, "d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake,
               "diversity_min": min(diversity), "diversity_mean": sum(diversity) / len(diversity),
               "diversity": diversity, "seconds": seconds}
        self.history.append(row)
        # Rewritten whole from the history: after a resume it never holds the lines of an epoch that was lost.
        (self.out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in self.history))
        self.log(f"epoch {epoch}: D {d_loss:.3f}  G {g_loss:.3f}  D(x) {d_real:.2f}  D(G(z)) {d_fake:.2f}  "
                 f"diversity min {row['diversity_min']:.2f} mean {row['diversity_mean']:.2f}  {seconds:.0f}s")
        worst = min(range(NUM_CLASSES), key=lambda d: diversity[d])
        if falling:
            self.log(f"WARNING: diversity is falling: digit {worst}'s fakes now vary {diversity[worst]:.2f}x as much "
                     f"as real ones, down from {self.probe.best_so_far(self.history[:-1]):.2f} (a sign of collapse)")
        if self.probe.collapsed(diversity):
            self.log(f"WARNING: collapse: the fakes of digit {worst} vary {diversity[worst]:.2f}x as much as real "
                     f"ones (threshold {self.probe.threshold})")
        else:
            self.healthy = {"epoch": epoch, "weights": copy.deepcopy(G.state_dict())}

    def finish(self, epoch, G):
        """The curves drawn, and G with the weights to save: the last epoch's, unless it collapsed, then those of the
        last epoch that did not."""
        save_training_curves(self.history, self.out)
        if self.healthy is None:
            self.log("WARNING: every epoch looked collapsed; saving the final generator anyway")
        elif self.healthy["epoch"] != epoch:
            self.log(f"WARNING: the final generator is collapsed; saving epoch {self.healthy['epoch']}'s instead")
            G.load_state_dict(self.healthy["weights"])
        return G
