"""Train the conditional GAN on MNIST and save the generator in Hugging Face layout.

One recipe (cgan/recipe.py), two budgets:
  quick   12 epochs, 17.5 minutes of training on a 2-core CPU (the default without a CUDA GPU)
  full    72 epochs, the same recipe on every device: 103 minutes on a 2-core CPU, minutes on a GPU (the default
          on one); the minutes: python -m benchmarks.speed

    python train.py                          # the recipe, on this device's budget
    python train.py --budget full            # the full budget, on any device
    python train.py --seed 1 --out runs/s1   # another seed, in another run folder
    python train.py --epochs 16              # the same recipe, longer
    python train.py --arch seed              # the course report's network, to compare
    python train.py --out runs/s1 --resume   # go on after a stop (Ctrl-C saves the step in progress)
    python train.py --limit 512 --epochs 1   # a quick trial on 512 images
    python train.py --push-to-hub user/cgan-digits
"""

import argparse
import json
import shlex
import sys
import time

from cgan.checks import check_int
from cgan.data import DEFAULT_DATA_DIR, MnistUnavailableError
from cgan.hub import EVALUATION_FILE, PushError, push_folder, save_model, write_model_card
from cgan.models import ARCHS
from cgan.recipe import BUDGETS
from cgan.training import TrainConfig, TrainingError, TrainingInterrupted, run_record, train


def count(minimum):
    """An argparse type: a whole number, `minimum` or more (cgan.checks.check_int)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        try:
            return check_int("value", value, minimum)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error).removeprefix("value ")) from None
    return parse


def eval_count(text):
    """0 (no evaluation) or at least 10 samples per digit: the evaluator's k-NN and FD need that many."""
    value = count(0)(text)
    if 0 < value < 10:
        raise argparse.ArgumentTypeError(f"must be 0 (skip the evaluation) or 10 or more, got {text}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=ARCHS, help="dcgan (default) or seed, the report's network")
    parser.add_argument("--budget", choices=BUDGETS, help="quick (12 epochs) or full (72); "
                                                          "default: full on a CUDA GPU, else quick")
    parser.add_argument("--epochs", type=count(1), help="default: the budget's; more extends the run")
    parser.add_argument("--seed", type=count(0), help="default 0")
    parser.add_argument("--out", default="runs/default", help="the run folder (default runs/default)")
    parser.add_argument("--resume", action="store_true", help="go on with the run in --out")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="torch.compile the networks (default: on a CUDA GPU only)")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                        help="train under bf16 autocast (default: where the hardware does bf16, a CUDA GPU or a CPU "
                             "with Intel AMX; --no-bf16 trains in fp32)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="where torchvision keeps MNIST")
    parser.add_argument("--mnist-dir", help="offline: a folder with the four MNIST .gz files (or CGAN_MNIST_DIR)")
    parser.add_argument("--limit", type=count(1), help="train on the first N images only (quick trials)")
    parser.add_argument("--eval-per-digit", type=eval_count, default=1000,
                        help="samples per digit for the evaluation at the end (10 or more); 0 skips it, and the "
                             "style directions")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the saved generator to this Hub repo")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    command = "python train.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    config = TrainConfig(arch=args.arch, budget=args.budget, epochs=args.epochs, seed=args.seed, device=args.device,
                         out=args.out, data_dir=args.data_dir, mnist_dir=args.mnist_dir, limit=args.limit,
                         resume=args.resume, compile=args.compile, bf16=args.bf16, command=command.strip())
    start = time.perf_counter()
    try:
        model, trainer = train(config)
    except TrainingInterrupted as stop:
        sys.exit(f"\ninterrupted: {stop}. Go on with: python train.py --out {args.out} --resume")
    except KeyboardInterrupt:
        sys.exit(f"\ninterrupted; the last finished epoch is saved. Go on with: python train.py --out {args.out} "
                 f"--resume")
    except (ValueError, OSError, MnistUnavailableError, TrainingError) as error:
        sys.exit(f"error: {error}")
    folder = trainer.out / "generator"
    save_model(model, folder, training=run_record(trainer, time.perf_counter() - start),
               samples=trainer.watch.grid(model, model.noise_scale))
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
        # Measured with the evaluation classifier as the evaluation is, on the model's own digits: a few minutes on a
        # CPU, so a tiny trial (--eval-per-digit 0) goes without.
        from cgan.style import write_style
        try:
            print(f"wrote the style directions (slant, stroke weight) to {write_style(model, folder)}")
        except (OSError, ValueError) as error:
            print(f"warning: no style directions ({error}); the model draws with slant and weight 0 only. Make them "
                  f"with python -m cgan.style {folder}")

    if args.push_to_hub:
        try:
            print(f"pushed: {push_folder(folder, args.push_to_hub, private=args.private)}")
        except PushError as error:
            sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
