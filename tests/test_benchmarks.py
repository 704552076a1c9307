"""The benchmarks as a user runs them (`python -m benchmarks.NAME`, in a subprocess): each on a small case, for real,
checked by the files it writes and what it prints. What a benchmark refuses before any run, and a run scored again,
is checked by calling its `main` here instead: a subprocess would spend 7 seconds importing torch first."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # each starts python and torch afresh, and most train or measure something


def benchmark(*argv, expect_ok=True, timeout=900):
    """`python -m benchmarks.NAME ARGS` from the repository's root: (exit code, stdout and stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-m", *map(str, argv)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    output = done.stdout + done.stderr
    if expect_ok:
        assert done.returncode == 0, output
    return done.returncode, output


def refusal(capsys, main, *argv):
    """What `main(argv)` says as it exits with an error (argparse's message, or sys.exit's), as a user would read it."""
    with pytest.raises(SystemExit) as stopped:
        main([str(arg) for arg in argv])
    assert stopped.value.code not in (0, None)
    return capsys.readouterr().err + str(stopped.value.code)


def test_variants_trains_two_seeds_side_by_side_scores_them_and_scores_them_again(tmp_path, data_dir, mnist_dir):
    out = tmp_path / "runs"
    _, printed = benchmark("benchmarks.variants", "--seeds", "0,1", "--limit", "256", "--per-digit", "10",
                           "--set", "epochs=1", "--set", "ink=255", "--set", "noise_scales=()", "--out", out,
                           "--data-dir", data_dir, "--mnist-dir", mnist_dir)
    change = "epochs=1,ink=255,noise_scales=()"
    for seed in (0, 1):
        run = out / f"{change}-seed{seed}"
        result = json.loads((run / "validation.json").read_text())
        assert result["change"] == change and result["seed"] == seed and result["per_digit"] == 10
        assert 0 <= result["c2st"] <= 1 and 0 <= result["pixel_tv"] <= 1 and result["fd"] > 0
        training = json.loads((run / "generator" / "training.json").read_text())
        assert training["recipe"]["ink"] == 255 and training["epochs"] == 1 and training["seed"] == seed
        assert training["command"].startswith("python -m benchmarks.variants --seeds 0,1 --limit 256")
        assert "epoch 1:" in (out / f"{run.name}.log").read_text() and not (run / "state.pt").exists()
        assert f"| {change} | {seed} | 1.0 |" in printed
    assert "| **mean** |" in printed
    run = out / f"{change}-seed0"
    first = json.loads((run / "validation.json").read_text())
    from benchmarks import variants  # scored again here: the run is what a user's was, the scoring the same code
    variants.main(["--score", str(run), "--per-digit", "10", "--data-dir", str(data_dir), "--mnist-dir", str(mnist_dir)])
    again = json.loads((run / "validation.json").read_text())
    assert again["accuracy"] == first["accuracy"] and again["fd"] == pytest.approx(first["fd"], rel=1e-3)


def test_variants_stops_a_run_past_its_minutes_and_scores_it_as_it_stands(tmp_path, data_dir, mnist_dir):
    out = tmp_path / "runs"
    # 300 epochs of 2 steps take minutes; the limit stops the run after a few seconds, wherever it is by then.
    _, printed = benchmark("benchmarks.variants", "--seeds", "0", "--limit", "256", "--per-digit", "10", "--minutes",
                           "0.05", "--set", "epochs=300", "--set", "noise_scales=()", "--out", out, "--data-dir",
                           data_dir, "--mnist-dir", mnist_dir)
    run = out / "epochs=300,noise_scales=()-seed0"
    training = json.loads((run / "generator" / "training.json").read_text())
    assert training["epochs"] < 300 and training["stopped"] == f"after 0.05 minutes, {training['epochs']} of 300 " \
                                                               f"epochs done"
    assert json.loads((run / "validation.json").read_text())["stopped"] == training["stopped"]
    assert f"seed 0: stopped {training['stopped']}" in printed


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "1,1"], "seeds must be different"), (["--per-digit", "5"], "--per-digit must be 10-500"),
    (["--jobs", "0"], "--jobs must be 1 or more"), (["--minutes", "nan"], "--minutes must be a number above 0"),
    (["--set", "gamma=1"], "'gamma' is not a recipe setting"), (["--set", "r1_gamma"], "expected SETTING=VALUE"),
    (["--set", "r1_gamma=-1", "--set", "epochs=1", "--limit", "64"], "r1_gamma must be 0 or more, got -1"),
    (["--set", "validation=False", "--set", "noise_scales=()"], "validation=False holds no digits out"),
])
def test_variants_refuses_what_it_cannot_run_before_any_run(tmp_path, capsys, argv, message):
    from benchmarks import variants
    assert message in refusal(capsys, variants.main, *argv, "--out", tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_variants_scores_only_runs_that_held_the_validation_digits_out(tmp_path, capsys, data_dir, mnist_dir):
    from benchmarks import variants
    where = ["--data-dir", data_dir, "--mnist-dir", mnist_dir]
    printed = refusal(capsys, variants.main, "--score", tmp_path, *where)
    assert "a run could not be scored" in printed and "training.json" in printed
    (tmp_path / "generator").mkdir()
    (tmp_path / "generator" / "training.json").write_text(json.dumps({"seed": 0, "recipe": {"validation": False}}))
    assert "trained on the validation digits as well" in refusal(capsys, variants.main, "--score", tmp_path, *where)


def test_speed_times_a_change_against_the_recipe_in_turn(tmp_path, mnist_dir):
    _, printed = benchmark("benchmarks.speed", "--device", "cpu", "--recipes", "dcgan-quick", "--set", "g_fine=16",
                           "--rounds", "2", "--steps", "1", "--out", tmp_path, "--mnist-dir", mnist_dir)
    (cost,) = json.loads((tmp_path / "speed-cpu-g_fine=16.json").read_text())["costs"]
    assert (cost["arch"], cost["budget"], cost["change"], cost["rounds"]) == ("dcgan", "quick", "g_fine=16", 2)
    for part in ("step", "generate"):
        low, high = cost[part]["ratio_range"]
        assert cost[part]["recipe_ms"] > 0 and cost[part]["changed_ms"] > 0 and low <= cost[part]["ratio"] <= high
    assert not (tmp_path / "speed-cpu.md").exists()  # the table of the recipes as they are is not overwritten
    assert "| dcgan-quick | g_fine=16 | generate(64) |" in (tmp_path / "speed-cpu-g_fine=16.md").read_text()
    assert "| dcgan-quick | g_fine=16 | generate(64) |" in printed
    for part in ("step", "generate"):  # each arm's arithmetic, under the machine's peak (g_fine=16: more of it)
        assert all(0 < cost[part][arm]["peak_share"] < 1 for arm in ("recipe", "changed"))
    assert "Peak, fp32: 2 cores x" in printed and " GFLOP/s (the " in printed


def test_flops_are_counted_through_a_gradient_taken_of_a_leaf_as_r1s_penalty_takes_it():
    import torch

    from benchmarks.speed import counted_flops
    conv = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False)
    x = torch.randn(2, 1, 8, 8)

    def penalty():  # as cgan.objective.r1_penalty: the gradient of D's output with respect to its input, a leaf
        leaf = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(conv(leaf).sum(), leaf, create_graph=True)
        grad.square().sum().backward()

    forward = 2 * 2 * 4 * 8 * 8 * 9  # 2 FLOPs a multiply-add, 2 images, 4 channels out, 8 x 8 positions, 3 x 3 taps
    assert counted_flops(lambda: conv(x)) == forward
    assert counted_flops(penalty) >= 3 * forward  # the forward pass, the input's gradient and the weights' through it


CPUINFO = """processor\t: {n}
vendor_id\t: {vendor}
cpu family\t: {family}
model name\t: {model}
cpu MHz\t\t: 2596.136
physical id\t: 0
core id\t\t: {core}
flags\t\t: fpu sse2 avx fma avx2 {extra}
"""


@pytest.mark.parametrize("vendor, family, extra, cores, max_khz, peak", [
    ("AuthenticAMD", 25, "avx512f avx512bw", (0, 1), None, 2 * 2596.136 * 2 * 8 * 2 / 1000),  # Zen 4: 2 x 256 bits
    ("GenuineIntel", 6, "avx512f avx512bw", (0, 1), "3500000", 2 * 3500 * 2 * 16 * 2 / 1000),  # 2 x 512 bits
    ("GenuineIntel", 6, "", (0, 0), None, 1 * 2596.136 * 2 * 8 * 2 / 1000),  # 2 threads of one core
])
def test_the_peak_is_cores_clock_fma_units_lanes_and_two(tmp_path, vendor, family, extra, cores, max_khz, peak):
    from benchmarks.speed import cpu_peak
    cpuinfo, max_clock = tmp_path / "cpuinfo", tmp_path / "cpuinfo_max_freq"
    cpuinfo.write_text("\n".join(CPUINFO.format(n=n, vendor=vendor, family=family, model="a CPU", core=core,
                                                extra=extra) for n, core in enumerate(cores)))
    if max_khz:
        max_clock.write_text(max_khz)
    assert cpu_peak(2, cpuinfo, max_clock)["gflop_per_s"] == pytest.approx(peak)
    assert cpu_peak(1, cpuinfo, max_clock)["gflop_per_s"] == pytest.approx(peak / len(set(cores)))
    assert cpu_peak(2, tmp_path / "no-such-file", max_clock) is None


@pytest.mark.parametrize("argv, message", [
    (["--recipes", "seed-quick", "--set", "g_fine=16"], "seed-quick with g_fine=16: "),
    (["--recipes", "dcgan-tpu"], "--recipes takes names from"),
    (["--set", "g_fine=16", "--rounds", "0"], "--rounds and --steps must be 1 or more"),
    (["--model", "no/such/folder/"], "--model: model folder no/such/folder/ does not exist"),
])
def test_speed_refuses_what_it_cannot_time_by_name(capsys, argv, message):
    from benchmarks import speed
    assert message in refusal(capsys, speed.main, "--device", "cpu", *argv)


def test_hands_grades_found_hands_by_its_own_eyes_and_the_judges_and_reads_canvas_drawings(tmp_path, mnist_dir):
    _, printed = benchmark("benchmarks.hands", "--n", "10", "--out", tmp_path, "--mnist-dir", mnist_dir)
    result = json.loads((tmp_path / "hands-project.json").read_text())
    assert result["inputs"] == 10 and result["digits"] == "test" and result["seconds_median"] > 0
    for eyes in ("own", "judge"):
        assert 0.7 <= result[eyes]["match"] <= 1 and 0.9 <= result[eyes]["read"] <= 1
        assert -1 <= result[eyes]["ink_rho"] <= 1 and -1 <= result[eyes]["slant_rho"] <= 1
    assert result["refused"] <= 0.2 and result["scribbles_refused"] >= 0.5  # real digits pass, scribbles do not
    canvas = result["canvas"]
    assert canvas["read"] >= 0.8 and canvas["refused"] == sum(canvas["refused_why"].values())
    assert canvas["rows_refused_why"].get("pieces", 0) >= 0.6  # two digits side by side: "draw one digit only"
    assert "| project | the judge |" in printed and (tmp_path / "hands-project.md").read_text() in printed
    from benchmarks import hands  # the time alone, as the app finds a hand: in this process, torch loaded already
    hands.main(["--time", "--n", "10", "--out", str(tmp_path), "--mnist-dir", str(mnist_dir)])
    timing = json.loads((tmp_path / "hands-time.json").read_text())
    assert timing["inputs"] == 10 and 0 < timing["seconds_median"] <= timing["seconds_p90"] and timing["refused"] <= 0.2


def test_hands_on_held_out_digits_chooses_the_models_thresholds_and_never_asks_the_judge(tmp_path, mnist_dir):
    model = tmp_path / "generator"
    shutil.copytree(ROOT / "checkpoints" / "generator", model)
    _, printed = benchmark("benchmarks.hands", "--n", "10", "--validation", "--save", "--unsearched", "40", "--model",
                           model, "--out", tmp_path, "--mnist-dir", mnist_dir)
    result = json.loads((tmp_path / "hands-project-validation.json").read_text())
    assert result["digits"] == "held-out training" and "judge" not in result and "the judge" not in printed
    assert result["thresholds"]["held_out"] == 40
    assert "--unsearched 40" in json.loads((model / "hands.json").read_text())["command"]
    chosen = result["thresholds"]["chosen"]
    assert 1 < result["thresholds"]["stroke_median"] < chosen["max_stroke"] and 0 < chosen["min_confidence"] < 1
    assert "max_distance" in printed and f"wrote {model / 'hands.json'}" in printed
    from cgan import load_generator  # find_hand refuses drawings at the thresholds saved for these weights
    from cgan.hands import HandFinder
    generator = load_generator(model)
    assert dataclasses.asdict(HandFinder(generator).thresholds) == pytest.approx(chosen)
    from benchmarks.hands import FAR, OWN_SEED, shape  # the model's own digits are not refused for their shape
    own = np.array([shape(digit) for digit in generator.style_rows(1, seed=OWN_SEED)[0]])
    assert chosen["max_stroke"] >= np.quantile(own[:, 0], 1 - FAR) and chosen["max_holes"] >= own[:, 2].max()


@pytest.mark.parametrize("argv, message", [
    (["--compare"], "--compare chooses a search: with --validation only"),
    (["--save"], "--save chooses the thresholds find_hand refuses at: with --validation"),
    (["--validation", "--save", "--search", "plain"], "with --validation and the project's search only"),
    (["--time", "--validation"], "--time times the app's search on test digits"),
    (["--unsearched", "100"], "--unsearched is with --validation, and at least 1, got 100"),
    (["--validation", "--unsearched", "0"], "--unsearched is with --validation, and at least 1, got 0"),
])
def test_hands_chooses_searches_and_thresholds_on_held_out_digits_only(capsys, argv, message):
    from benchmarks import hands
    assert message in refusal(capsys, hands.main, *argv)


def test_seeds_table_checks_each_run_against_its_budgets_bar(tmp_path):
    for seed, accuracy in ((0, 0.998), (1, 0.990)):
        run = tmp_path / f"s{seed}"
        (run / "generator").mkdir(parents=True)
        (run / "generator" / "training.json").write_text(json.dumps(
            {"seed": seed, "budget": "quick", "device": "a CPU", "minutes": 12.0, "noise_scale": 1.0}))
        (run / "generator" / "evaluation.json").write_text(json.dumps({"model": {
            "accuracy": accuracy, "accuracy_min": 0.991, "precision": 0.8, "recall": 0.75}}))
        (run / "metrics.jsonl").write_text(json.dumps({"diversity_min": 0.9}) + "\n")
    _, printed = benchmark("benchmarks.seeds_table", tmp_path / "s0", tmp_path / "s1", "--out", tmp_path / "seeds")
    assert "| 0 | quick | a CPU | 12.0 | 1.0 | pass | 99.80% |" in printed
    assert "| 1 | quick | a CPU | 12.0 | 1.0 | FAIL: accuracy | 99.00% |" in printed
    assert "| **mean** |" in printed and (tmp_path / "seeds.md").read_text() in printed
    code, printed = benchmark("benchmarks.seeds_table", tmp_path, expect_ok=False)
    assert code != 0 and "is not a finished and evaluated run of train.py" in printed


def test_second_opinion_judges_a_model_in_the_independent_judges_eyes(tmp_path, data_dir, mnist_dir):
    _, printed = benchmark("benchmarks.second_opinion", "--n-per-digit", "10", "--out", tmp_path,
                           "--data-dir", data_dir, "--mnist-dir", mnist_dir)
    result = json.loads((tmp_path / "second-opinion.json").read_text())
    for side in ("model", "real"):
        assert result[side]["accuracy"] >= 0.8, printed  # the bundled model's digits read as asked, as real ones are
        assert 0.0 <= result[side]["recall"] <= 1.0 and result[side]["c2st_epochs"] >= 20
    assert "| accuracy |" in (tmp_path / "second-opinion.md").read_text()
