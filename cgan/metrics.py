"""The figures a generator is judged by, in one table: the evaluator's report, the model card, the Hub's model index
and the benchmarks' tables all read their names, labels and formats here."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str  # its name in the evaluator's JSON (evaluation.json's "model" and "real")
    label: str  # a table's column or row
    description: str  # what it is, in a sentence's words (the card, the model index)
    fmt: str  # how a value is written
    higher_is_better: bool
    hub_type: str | None = None  # its type in the Hub's model index; None: not indexed

    def show(self, value):
        return self.fmt.format(value)


METRICS = (
    Metric("accuracy", "accuracy", "conditional accuracy: the asked digit is drawn (the project's MNIST classifier)",
           "{:.2%}", True, "accuracy"),
    Metric("accuracy_min", "worst digit", "the worst digit's conditional accuracy", "{:.2%}", True),
    Metric("fd", "FD", "Fréchet distance in the classifier's features", "{:.3f}", False, "frechet_distance"),
    Metric("fd_per_digit", "per-digit FD", "per-digit Fréchet distance, the mean over the digits", "{:.3f}", False,
           "frechet_distance"),
    Metric("precision", "precision", "precision (k = 3): samples inside the real digits' manifold", "{:.3f}", True,
           "precision"),
    Metric("recall", "recall", "recall (k = 3): real digits inside the samples' manifold", "{:.3f}", True, "recall"),
    Metric("c2st", "C2ST", "two-sample test: a fresh critic's accuracy at telling samples from real digits "
           "(0.5: it cannot)", "{:.3f}", False, "accuracy"),
    Metric("pixel_tv", "pixel TV", "total-variation distance between the pixel-value histograms", "{:.3f}", False),
    Metric("cas", "CAS", "classification accuracy score: a classifier trained on samples only, tested on real digits",
           "{:.2%}", True, "accuracy"),
)


def present(*results):
    """The metrics every one of `results` (dicts of figures) has, in the table's order."""
    return [metric for metric in METRICS if all(metric.key in result for result in results)]
