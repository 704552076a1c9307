"""Generate digits from the shell.

    python -m cgan.generate --digit 7 --n 64 --seed 42 --out sevens.png        # a grid PNG (.npy: the uint8 array)
    python -m cgan.generate --digit 7 --n 64 --noise-scale 0.5 --out neat.png  # neater, more typical digits
    python -m cgan.generate --number "0151 234" --n 4 --out number.png       # a number in one hand, 4 hands
    python -m cgan.generate --style-rows --n 8 --out hands.png                # 8 hands, each writing 0-9
    python -m cgan.generate --morph --digit 3 --to-digit 8 --seed 5 --out morph.gif   # one hand, from 3 to 8
                                                          # (.png: the frames side by side)
    python -m cgan.generate --morph --digit 3 --seed 5 --to-seed 6 --out morph.gif    # one digit, two hands
    python -m cgan.generate --hand drawing.png --number 2026 --out mine.png   # a number in the hand of a drawing
    python -m cgan.generate --style-rows --n 4 --seed 7 --slant 1.5 --weight -1 --out leaning.png  # the same hands,
                                                          # leaning right, finer (-2 to 2; 0: as they are)
    python -m cgan.generate --dataset 60000 --out synth/        # a synthetic MNIST, read by torchvision's MNIST
    python -m cgan.generate --dataset 20000 --digits 3,8 --test 2000 --seed 1 --out synth38/   # some digits only
"""

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from cgan.dataset import write_dataset
from cgan.hands import read_drawing
from cgan.hub import load_generator
from cgan.plots import save_gif, save_grid

SUFFIXES = {"digits": (".png", ".npy"), "number": (".png", ".npy"), "style rows": (".png", ".npy"),
            "morph": (".gif", ".png", ".npy"), "hand": (".png", ".npy")}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m cgan.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group()
    parser.add_argument("--number", metavar="TEXT", help="write this number (1-12 digits, spaces allowed) in one "
                                                          "hand")
    what.add_argument("--style-rows", action="store_true", help="--n rows, each the digits 0-9 in one hand")
    what.add_argument("--morph", action="store_true", help="an animation from --digit/--seed to --to-digit/--to-seed")
    what.add_argument("--hand", metavar="PICTURE", help="a picture of one digit drawn by hand: write --number (default "
                                                         "0123456789) in its hand (cgan/hands.py)")
    what.add_argument("--dataset", type=int, metavar="N", help="a labelled synthetic MNIST of N training digits in "
                                                                "the folder --out (cgan/dataset.py)")
    parser.add_argument("--digits", type=digit_list, help="--dataset: the digits to draw, e.g. 3,8 (default: 0-9)")
    parser.add_argument("--test", type=int, default=10_000, help="--dataset: test digits, drawn apart from the "
                                                                  "training ones (default 10,000)")
    parser.add_argument("--digit", type=int, help="the digit to draw, 0-9 (digits and --morph); with --hand, the digit "
                                                  "drawn (default: read from the picture)")
    parser.add_argument("--n", type=int, default=None, help="how many samples, rows or hands (default 16; 1 for "
                                                             "--number, 10 for --style-rows)")
    parser.add_argument("--seed", type=int, default=None, help="same seed, same images (default: random)")
    parser.add_argument("--noise-scale", type=float, default=None,
                        help="0.3-1.5: lower draws neater, more typical digits, higher rarer styles (default: the "
                             "model's own)")
    parser.add_argument("--slant", type=float, default=0.0, help="-2 to 2: the hands leaning left (< 0) or right "
                                                                 "(> 0); default 0, as they are (cgan/style.py)")
    parser.add_argument("--weight", type=float, default=0.0, help="-2 to 2: the strokes finer (< 0) or bolder (> 0); "
                                                                  "default 0")
    parser.add_argument("--to-digit", type=int, help="--morph: the digit to end on (default: --digit)")
    parser.add_argument("--to-seed", type=int, help="--morph: the seed to end on (default: --seed)")
    parser.add_argument("--frames", type=int, default=24, help="--morph: frames of the animation (default 24)")
    parser.add_argument("--out", required=True, help="the file to write: .png (for --morph .gif, or .png for the "
                                                     "frames side by side), or .npy for the uint8 array; the folder "
                                                     "for --dataset")
    parser.add_argument("--model", default=None, help="local folder or Hub repo id (default: $CGAN_MODEL, else "
                                                      "the bundled checkpoints/generator)")
    parser.add_argument("--nrow", type=int, default=8, help="images per grid row for digits (default 8)")
    args = parser.parse_args(argv)
    if args.number is not None and (args.style_rows or args.morph or args.dataset is not None):
        parser.error("--number writes a number, alone or in the hand of --hand; not with --style-rows, --morph or "
                     "--dataset")
    args.mode = ("hand" if args.hand is not None else "number" if args.number is not None
                 else "style rows" if args.style_rows else "morph" if args.morph
                 else "dataset" if args.dataset is not None else "digits")
    if args.mode == "dataset":
        if args.digit is not None or args.to_digit is not None or args.to_seed is not None:
            parser.error("--dataset draws every digit (or --digits); --digit, --to-digit and --to-seed are not for it")
        if args.slant or args.weight:
            parser.error("--dataset draws the model's digits as they are: --slant and --weight are not for it")
        return args
    if args.digits is not None or args.test != 10_000:
        parser.error("--digits and --test are for --dataset")
    out = Path(args.out)
    allowed = SUFFIXES[args.mode]
    if out.suffix.lower() not in allowed:
        parser.error(f"--out must end in {' or '.join(allowed)} for {args.mode}, got {args.out}")
    if not out.parent.is_dir():
        parser.error(f"--out: folder {out.parent} does not exist")
    if args.mode in ("digits", "morph") and args.digit is None:
        parser.error(f"--digit is required for {args.mode}")
    if args.mode == "hand" and (args.seed is not None or args.n is not None):
        parser.error("--hand writes in the drawing's hand: --seed and --n are not for it")
    if args.mode != "morph" and (args.to_digit is not None or args.to_seed is not None):
        parser.error("--to-digit and --to-seed are for --morph")
    return args


def digit_list(text):
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected digits like 3,8, got {text!r}") from None


def make(generator, args):
    """(the uint8 array, a sentence saying what it is) for the parsed arguments."""
    scale, style = args.noise_scale, {"slant": args.slant, "weight": args.weight}
    if args.mode == "hand":
        hand = generator.find_hand(read_drawing(args.hand), args.digit, scale)
        text = args.number or "0123456789"
        return (generator.write_number(text, hand=hand, **style),
                f"the number {text.strip()!r} in the hand of {args.hand} (read as a {hand.digit})")
    if args.mode == "number":
        n = 1 if args.n is None else args.n
        return (generator.write_number(args.number, n, args.seed, scale, **style),
                f"{n} x the number {args.number.strip()!r}")
    if args.mode == "style rows":
        n = 10 if args.n is None else args.n
        return generator.style_rows(n, args.seed, scale, **style), f"{n} rows of the digits 0-9"
    if args.mode == "morph":
        frames = generator.morph(args.digit, args.to_digit, args.seed, args.to_seed, args.frames, scale, **style)
        return frames, f"a {len(frames)}-frame morph"
    n = 16 if args.n is None else args.n
    return generator.generate(args.digit, n, args.seed, scale, **style), f"{n} images of digit {args.digit}"


def main(argv=None):
    args = parse_args(argv)
    if args.mode == "dataset":
        command = "python -m cgan.generate " + shlex.join(sys.argv[1:] if argv is None else argv)
        try:
            manifest = write_dataset(load_generator(args.model), args.out, args.dataset, args.test,
                                     range(10) if args.digits is None else args.digits, args.seed, args.noise_scale,
                                     command=command)
        except (ValueError, OSError) as error:
            sys.exit(f"error: {error}")
        print(f"wrote {manifest['train']['count']:,} training and {manifest['test']['count']:,} test digits "
              f"({', '.join(map(str, manifest['digits']))}; seed {manifest['seed']}, noise scale "
              f"{manifest['noise_scale']:g}) to {args.out}")
        return
    try:
        images, what = make(load_generator(args.model), args)
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    out = Path(args.out)
    if out.suffix.lower() == ".npy":
        np.save(out, images)
    elif args.mode == "morph" and out.suffix.lower() == ".gif":
        save_gif(images, out)
    elif args.mode == "morph":  # a PNG: the frames side by side, a strip
        save_grid(images, out, nrow=len(images))
    elif args.mode == "style rows":
        save_grid(images.reshape(-1, 28, 28), out, nrow=10)
    else:
        save_grid(images, out, nrow=1 if args.mode in ("number", "hand") else max(1, args.nrow))
    print(f"wrote {what} to {out}")


if __name__ == "__main__":
    main()
