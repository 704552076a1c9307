"""Figures: sample grids and the training curves (the course report's loss and D-score plots)."""

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed, on a server or in CI
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from cgan.diversity import DiversityProbe


def grid_image(images, nrow, pad=2):
    """uint8 (N, 28, 28) images (or float (N, 1, 28, 28) in [-1, 1]) -> one uint8 grid, ink white on black."""
    images = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images)
    if images.dtype != np.uint8:
        images = ((images.reshape(len(images), 28, 28) + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    n = len(images)
    ncol = min(nrow, n)
    rows = (n + ncol - 1) // ncol
    h, w = images.shape[1:]
    grid = np.zeros((rows * (h + pad) + pad, ncol * (w + pad) + pad), dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return grid


def save_grid(images, path, nrow=10, scale=2):
    """Save images as one PNG grid, upscaled by `scale` with nearest-neighbour so the pixels stay crisp."""
    grid = Image.fromarray(grid_image(images, nrow))
    grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST).save(path)


def save_gif(frames, path, scale=4, frame_ms=80):
    """uint8 (frames, 28, 28) as a looping animated GIF, upscaled by `scale` with nearest-neighbour."""
    pictures = [Image.fromarray(frame).resize((frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST)
                for frame in np.asarray(frames)]
    pictures[0].save(path, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0)


def save_training_curves(history, out):
    """losses.png: D and G loss per epoch beside the collapse signal; d_scores.png: mean D(x) and D(G(z))."""
    epochs = [row["epoch"] for row in history]

    def panel(ax, ylabel, series):
        for label, key in series:
            ax.plot(epochs, [row[key] for row in history], marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()

    fig, (losses, diversity) = plt.subplots(1, 2, figsize=(11, 4))
    panel(losses, "loss", [("D loss", "d_loss"), ("G loss", "g_loss")])
    panel(diversity, "spread of fakes / spread of real digits",
          [("worst digit", "diversity_min"), ("mean over digits", "diversity_mean")])
    diversity.axhline(DiversityProbe.threshold, color="red", linestyle="--", linewidth=1, label="collapse alarm")
    diversity.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(out / "losses.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    panel(ax, "mean D output", [("D(x), real", "d_real"), ("D(G(z)), fake", "d_fake")])
    fig.tight_layout()
    fig.savefig(out / "d_scores.png", dpi=100)
    plt.close(fig)
