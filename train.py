"""Train the conditional GAN on MNIST and save the generator in Hugging Face layout.

    python train.py                          # the default architecture, to the quality bar
    python train.py --size large             # the GPU default's larger networks, on any device
    python train.py --deep-d --epochs 30     # the small G with the large size's D depth: how the shipped model was made
    python train.py --d-size large --loss nonsaturating --r1 1 --batch-size 256   # the small G, the large D, R1
    python train.py ... --epochs 64 --lr-drop 54     # the last 10 epochs at a quarter of the learning rate
    python train.py --arch seed              # the course report's baseline
    python train.py --out runs/x --resume    # continue an interrupted run
    python train.py --push-to-hub user/cgan-digits
"""

import argparse
import json
import math
import shlex
import sys
import time

import torch

from cgan.data import DEFAULT_DATA_DIR, MnistUnavailableError
from cgan.hub import EVALUATION_FILE, PushError, push_folder, save_model, write_model_card
from cgan.models import ARCHS, DEFAULT_ARCH, SIZES
from cgan.training import DCGAN_LOSSES, RECIPES, TrainConfig, train


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def fraction(text):
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 1, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    recipe = RECIPES[DEFAULT_ARCH]
    parser.add_argument("--arch", choices=ARCHS, default=DEFAULT_ARCH)
    parser.add_argument("--size", choices=SIZES, help=f"network size of {DEFAULT_ARCH} (default: {recipe.size}, "
                                                      f"{recipe.cuda_size} on a CUDA GPU)")
    parser.add_argument("--deep-d", action=argparse.BooleanOptionalAction, default=None,
                        help="dcgan: a 3x3 conv after each of D's downsamplings (default: on for large, off for small)")
    parser.add_argument("--d-size", choices=SIZES,
                        help="dcgan: D's size, apart from G's (default: the same as --size); only G ships, so a larger "
                             "D costs training time only")
    parser.add_argument("--loss", choices=DCGAN_LOSSES, help=f"dcgan's loss (default: {recipe.loss})")
    parser.add_argument("--r1", type=non_negative_float, default=0.0, metavar="GAMMA",
                        help="dcgan: weight of the R1 gradient penalty on real digits (default 0: none)")
    parser.add_argument("--epochs", type=positive_int, help=f"default: the arch's recipe ({recipe.epochs} for "
                                                            f"{DEFAULT_ARCH}, {recipe.cuda_epochs} on a CUDA GPU)")
    parser.add_argument("--batch-size", type=positive_int, help=f"default: the arch's recipe ({recipe.batch_size})")
    parser.add_argument("--lr", type=positive_float, help=f"generator learning rate; D uses the recipe's multiple "
                                                          f"(default {recipe.lr} for {DEFAULT_ARCH})")
    parser.add_argument("--aux-classifier", type=non_negative_float, default=0.0, metavar="WEIGHT",
                        help="dcgan: weight of an auxiliary classifier's cross-entropy in G's loss; the classifier is "
                             "a small CNN trained on real digits beside D (default 0: none)")
    parser.add_argument("--lr-drop", type=non_negative_int, metavar="EPOCH",
                        help="after this many epochs, multiply both learning rates by --lr-drop-factor for the rest "
                             "of the run (default: no drop); may be given with --resume")
    parser.add_argument("--lr-drop-factor", type=fraction, default=0.25,
                        help="with --lr-drop: the factor, more than 0 and at most 1 (default 0.25)")
    parser.add_argument("--noise-scale", type=positive_float, default=1.0,
                        help="the saved generator's sampling noise scale (config.json's noise_scale; default 1): "
                             "above 1 draws rarer styles, below 1 more typical ones")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="torch.compile the networks (default: on a CUDA GPU only)")
    parser.add_argument("--out", default="runs/default", help="the run folder (samples, metrics, state, generator/)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="where torchvision keeps MNIST")
    parser.add_argument("--mnist-dir", help="offline: a folder with the four official MNIST .gz files "
                                            "(or set CGAN_MNIST_DIR)")
    parser.add_argument("--limit", type=positive_int, help="train on the first N images only (quick trials)")
    parser.add_argument("--eval-per-digit", type=int, default=1000,
                        help="samples per digit for the evaluation after training; 0 skips it")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the saved generator to this Hub repo")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    config = TrainConfig(arch=args.arch, size=args.size, deep_d=args.deep_d, d_size=args.d_size, loss=args.loss,
                         r1_gamma=args.r1, aux_weight=args.aux_classifier, lr_drop_epoch=args.lr_drop,
                         lr_drop_factor=args.lr_drop_factor, epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, seed=args.seed,
                         device=args.device, out=args.out, data_dir=args.data_dir, mnist_dir=args.mnist_dir,
                         limit=args.limit, resume=args.resume, compile=args.compile)
    start = time.perf_counter()
    try:
        model, trainer = train(config)
    except KeyboardInterrupt:
        sys.exit(f"\ninterrupted; the last finished epoch is saved. Continue with: python train.py --out {args.out} --resume")
    except (ValueError, FileNotFoundError, MnistUnavailableError) as error:
        sys.exit(f"error: {error}")
    folder = trainer.out / "generator"
    model = model.with_noise_scale(args.noise_scale)
    training = {
        "command": "python train.py " + shlex.join(sys.argv[1:] if argv is None else argv),
        "arch": trainer.config.arch, "size": trainer.config.size, "deep_d": trainer.config.deep_d,
        "d_size": trainer.config.d_size, "loss": trainer.config.loss, "r1_gamma": trainer.config.r1_gamma,
        "aux_weight": trainer.config.aux_weight, "lr_drop_epoch": trainer.config.lr_drop_epoch,
        "lr_drop_factor": trainer.config.lr_drop_factor,
        "batch_size": trainer.config.batch_size,
        "epochs": trainer.epoch, "seed": trainer.config.seed, "noise_scale": args.noise_scale,
        "minutes": sum(row["seconds"] for row in trainer.history) / 60,
        "wall_minutes": (time.perf_counter() - start) / 60, "device": trainer.device_name,
    }
    with torch.no_grad():
        samples = model(trainer.grid_noise * model.noise_scale, trainer.grid_labels)
    save_model(model, folder, training=training, samples=samples)
    print(f"saved the generator to {folder}")

    if args.eval_per_digit:
        from cgan.evaluate import evaluate, report
        try:
            result = evaluate(str(folder), args.eval_per_digit, data_dir=args.data_dir, mnist_dir=args.mnist_dir,
                              device=trainer.device)
        except OSError as error:  # no classifier checkpoint: the model is saved all the same
            print(f"warning: evaluation skipped ({error}); run python -m cgan.evaluate --model {folder} --save")
        else:
            (folder / EVALUATION_FILE).write_text(json.dumps(result, indent=2))
            write_model_card(folder)
            print(report(result))

    if args.push_to_hub:
        try:
            print(f"pushed: {push_folder(folder, args.push_to_hub, private=args.private)}")
        except PushError as error:
            sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
