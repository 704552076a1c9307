"""A generator judged by eyes it was never trained, chosen or measured by: the evaluation's figures again, in the
independent judge's features (benchmarks/judge: another architecture and seed than the evaluation classifier, trained
apart), on fresh sample seeds, and by a two-sample critic of another seed trained until it stops improving.

    python -m benchmarks.second_opinion                         # the bundled model
    python -m benchmarks.second_opinion --model runs/default/generator --out benchmarks/results

  read as asked     the judge's accuracy on 1,000 samples a digit (sample seeds 1000 + digit): overall and worst digit
  spread            FD, per-digit FD, precision and recall (k = 3) in the judge's 80-d features, against the 10,000
                    test digits: a model that draws few kinds of each digit loses recall and per-digit FD here too
  critic            the C2ST with a critic of seed 1 (the evaluator's: 0), at least 20 epochs and until 10 pass
                    without a better validation accuracy (the evaluator's: 10 and 5): how often a converged critic
                    tells the samples from real digits (0.5: it cannot)
Each beside the same for 1,000 real training digits a class, the floor. Writes second-opinion.json and .md to --out.
"""

import argparse
from pathlib import Path

from benchmarks.common import machine_line, write_results
from benchmarks.judge import load_judge
from cgan.data import DEFAULT_DATA_DIR, load_mnist
from cgan.evaluate import Evaluator, real_sample, samples_per_digit, shown_source
from cgan.hub import load_generator
from cgan.metrics import present
from cgan.two_sample import c2st

SAMPLE_SEED = 1000  # the evaluator draws digit d with seed d: these are samples it never saw
CRITIC = {"seed": 1, "min_epochs": 20, "patience": 10, "max_epochs": 60}


def second_opinion(model=None, n_per_digit=1000, data_dir=DEFAULT_DATA_DIR, mnist_dir=None):
    generator = load_generator(model)
    evaluator = Evaluator(load_judge(), *load_mnist(False, data_dir, mnist_dir))
    train_images, train_labels = load_mnist(True, data_dir, mnist_dir)
    sides = {"model": samples_per_digit(generator, n_per_digit, seed=SAMPLE_SEED),
             "real": real_sample(train_images, train_labels, n_per_digit, seed=SAMPLE_SEED)}
    result = {"model_source": shown_source(generator.source), "n_per_digit": n_per_digit, "sample_seed": SAMPLE_SEED,
              "critic": CRITIC, "machine": machine_line()}
    for side, (images, labels) in sides.items():
        scores = evaluator.score(images, labels)
        scores["c2st"], scores["c2st_epochs"] = c2st(images, labels, evaluator.test_images, evaluator.test_labels,
                                                     **CRITIC)
        result[side] = scores
    return result


def table(result):
    rows = ["| in the judge's eyes | the model | real training digits |", "|---|---|---|"]
    rows += [f"| {metric.label} | {metric.show(result['model'][metric.key])} | {metric.show(result['real'][metric.key])} |"
             for metric in present(result["model"], result["real"])]
    return (f"`python -m benchmarks.second_opinion`, model `{result['model_source']}`, {result['n_per_digit']:,} samples "
            f"a digit (seeds {SAMPLE_SEED} + digit). {result['machine']}\n\n" + "\n".join(rows) + "\n\nThe critic "
            f"trained {result['model']['c2st_epochs']} epochs on the model's digits, {result['real']['c2st_epochs']} "
            "on the real ones.\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.second_opinion", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a generator folder or Hub repo id (default: the bundled model)")
    parser.add_argument("--n-per-digit", type=int, default=1000)
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--mnist-dir", help="folder with the four official MNIST .gz files")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    if args.n_per_digit < 10:
        parser.error(f"--n-per-digit must be at least 10 (the critic needs a held-out half), got {args.n_per_digit}")
    result = second_opinion(args.model, args.n_per_digit, args.data_dir, args.mnist_dir)
    write_results(args.out, "second-opinion", result, table(result))


if __name__ == "__main__":
    main()
