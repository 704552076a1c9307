"""Generate digits from the shell.

    python -m cgan.generate --digit 7 --n 64 --seed 42 --out sevens.png   # a grid PNG
    python -m cgan.generate --digit 7 --n 64 --out sevens.npy             # uint8 array (64, 28, 28)
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from cgan.hub import load_generator
from cgan.plots import save_grid


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cgan.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digit", type=int, required=True, help="the digit to draw, 0-9")
    parser.add_argument("--n", type=int, default=16, help="how many samples (default 16)")
    parser.add_argument("--seed", type=int, default=None, help="same seed, same images (default: random)")
    parser.add_argument("--out", required=True, help="a .png grid, or a .npy uint8 array when it ends in .npy")
    parser.add_argument("--model", default=None, help="local folder or Hub repo id (default: $CGAN_MODEL, else "
                                                      "the bundled checkpoints/generator)")
    parser.add_argument("--nrow", type=int, default=8, help="images per grid row (default 8)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        parser.error(f"--out must end in .png or .npy, got {args.out}")
    if not out.parent.is_dir():
        parser.error(f"--out: folder {out.parent} does not exist")
    try:
        images = load_generator(args.model).generate(args.digit, args.n, args.seed)
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    if out.suffix.lower() == ".npy":
        np.save(out, images)
    else:
        save_grid(images, out, nrow=max(1, args.nrow))
    print(f"wrote {len(images)} images of digit {args.digit} to {out}")


if __name__ == "__main__":
    main()
