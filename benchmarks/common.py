"""What the benchmarks share: the machine they ran on, how their results are written, how a change to the recipe is
named on the command line, and a table of runs' figures."""

import argparse
import ast
import dataclasses
import json
import statistics
from pathlib import Path

import torch

from cgan.device import describe
from cgan.metrics import present
from cgan.recipe import Recipe

SETTINGS = {field.name for field in dataclasses.fields(Recipe)}


def machine_line(device=None):
    """The machine and software a measurement was made with, in one line."""
    return f"Machine: {describe(device)}; torch {torch.__version__}."


def write_results(out, name, entry, table):
    """A benchmark's measurements as out/name.json and their markdown table as out/name.md, the table printed too."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(entry, indent=2))
    (out / f"{name}.md").write_text(table)
    print(table)


def parse_change(text):
    """'name=value' -> (name, value): a recipe setting, its value read as a Python literal (0.3, True, (0.0, 0.9),
    None) or else as text ('hinge')."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected SETTING=VALUE, got {text!r}")
    if name not in SETTINGS:
        raise argparse.ArgumentTypeError(f"{name!r} is not a recipe setting; the settings: "
                                         f"{', '.join(sorted(SETTINGS))}")
    try:
        return name, ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return name, value.strip()


def label(changes):
    """A change's name in folder names and tables: 'recipe' for none."""
    return ",".join(f"{name}={value}" for name, value in changes.items()).replace(" ", "") or "recipe"


def runs_table(runs, first_columns):
    """A markdown table of runs (dicts of figures), a column per `first_columns` key (its heading, its format) and
    then per metric (cgan.metrics) they all have, with the mean and the spread (max - min) of several."""
    metrics = present(*runs)
    lines = ["| " + " | ".join([*first_columns.values()] + [metric.label for metric in metrics]) + " |",
             "|" + "---|" * (len(first_columns) + len(metrics))]
    for run in runs:
        lines.append("| " + " | ".join([str(run.get(key, "")) for key in first_columns]
                                       + [metric.show(run[metric.key]) for metric in metrics]) + " |")
    if len(runs) > 1:
        for name, fn in (("mean", statistics.mean), ("spread", lambda values: max(values) - min(values))):
            lines.append(f"| **{name}** |" + " |" * (len(first_columns) - 1) + " " +
                         " | ".join(metric.show(fn([run[metric.key] for run in runs])) for metric in metrics) + " |")
    return "\n".join(lines)
