"""benchmarks/variants.py: a change to the recipe, trained for some seeds side by side and scored on the validation
split; for real, on a few hundred digits for one epoch."""

import argparse
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import variants  # noqa: E402


def test_a_change_is_a_recipe_setting_and_a_python_value():
    assert variants.parse_change("r1_gamma=0.3") == ("r1_gamma", 0.3)
    assert variants.parse_change(" d_stem = 16 ") == ("d_stem", 16)
    assert variants.parse_change("betas=(0.5, 0.99)") == ("betas", (0.5, 0.99))
    assert variants.parse_change("loss=hinge") == ("loss", "hinge")  # not a literal: the text itself
    assert variants.label({"r1_gamma": 0.3, "betas": (0.5, 0.99)}) == "r1_gamma=0.3,betas=(0.5,0.99)"
    assert variants.label({}) == "recipe"


@pytest.mark.parametrize("text, message", [("r1_gamma", "expected SETTING=VALUE"), ("=1", "expected SETTING=VALUE"),
                                           ("gamma=1", "'gamma' is not a recipe setting")])
def test_a_change_that_is_not_one_is_refused_by_name(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        variants.parse_change(text)


@pytest.mark.parametrize("argv, message", [
    (["--set", "r1_gamma=-1"], "r1_gamma must be 0 or more, got -1"),
    (["--set", "validation=False", "--set", "noise_scales=()"], "validation=False holds no digits out"),
])
def test_a_bad_value_stops_before_any_run(tmp_path, argv, message):
    with pytest.raises(SystemExit, match=message):  # were it not stopped, the run would be a quick one
        variants.main(argv + ["--set", "epochs=1", "--limit", "64", "--out", str(tmp_path / "runs")])
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("argv", [["--seeds", "1,1"], ["--seeds", "a"], ["--per-digit", "5"], ["--jobs", "0"],
                                  ["--threads", "0"], ["--minutes", "0"], ["--minutes", "nan"], ["--minutes", "x"]])
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        variants.main(argv)
    assert "error:" in capsys.readouterr().err


def test_two_seeds_side_by_side_are_trained_saved_and_scored(tmp_path, data_dir, mnist_dir, capsys):
    out = tmp_path / "runs"
    variants.main(["--seeds", "0,1", "--limit", "256", "--per-digit", "10", "--set", "epochs=1", "--set", "ink=255",
                   "--set", "noise_scales=()", "--out", str(out), "--data-dir", str(data_dir),
                   "--mnist-dir", str(mnist_dir)])
    printed = capsys.readouterr().out
    for seed in (0, 1):
        run = out / f"epochs=1,ink=255,noise_scales=()-seed{seed}"
        result = json.loads((run / "validation.json").read_text())
        assert result["change"] == "epochs=1,ink=255,noise_scales=()" and result["seed"] == seed
        assert 0 <= result["c2st"] <= 1 and 0 <= result["pixel_tv"] <= 1 and result["fd"] > 0
        assert result["per_digit"] == 10 and result["sample_seed"] == variants.SAMPLE_SEED
        training = json.loads((run / "generator" / "training.json").read_text())
        assert training["recipe"]["ink"] == 255 and training["epochs"] == 1 and training["seed"] == seed
        assert training["command"].startswith("python benchmarks/variants.py --seeds 0,1 --limit 256")
        assert "epoch 1:" in (out / f"{run.name}.log").read_text() and not (run / "state.pt").exists()
        assert f"| epochs=1,ink=255,noise_scales=() | {seed} | 1 |" in printed
    assert "| epochs=1,ink=255,noise_scales=() | **mean** |" in printed

    # A saved run scored again from its folder: the same model, the same samples, the same digits.
    run = out / "epochs=1,ink=255,noise_scales=()-seed0"
    first = json.loads((run / "validation.json").read_text())
    variants.main(["--score", str(run), "--per-digit", "10", "--data-dir", str(data_dir),
                   "--mnist-dir", str(mnist_dir)])
    again = json.loads((run / "validation.json").read_text())
    assert again["accuracy"] == first["accuracy"] and again["fd"] == pytest.approx(first["fd"], rel=1e-3)


def test_a_run_past_its_minutes_is_stopped_saved_and_scored_as_it_stands(tmp_path, data_dir, mnist_dir, capsys):
    out = tmp_path / "runs"
    # 300 epochs of 2 steps take minutes; the limit stops the run after a few seconds, wherever it is by then.
    variants.main(["--seeds", "0", "--limit", "256", "--per-digit", "10", "--minutes", "0.05", "--set", "epochs=300",
                   "--set", "noise_scales=()", "--out", str(out), "--data-dir", str(data_dir),
                   "--mnist-dir", str(mnist_dir)])
    run = out / "epochs=300,noise_scales=()-seed0"
    training = json.loads((run / "generator" / "training.json").read_text())
    assert training["epochs"] < 300
    assert training["stopped"] == f"after 0.05 minutes, {training['epochs']} of 300 epochs done"
    result = json.loads((run / "validation.json").read_text())
    assert result["stopped"] == training["stopped"] and 0 <= result["c2st"] <= 1
    assert not (run / "state.pt").exists() and "stopped after 0.05 minutes" in (out / f"{run.name}.log").read_text()
    assert f"epochs=300,noise_scales=(), seed 0: stopped {training['stopped']}" in capsys.readouterr().out


def test_a_folder_that_is_not_a_run_is_named(tmp_path, data_dir, mnist_dir):
    with pytest.raises(SystemExit, match="a run could not be scored: .*training.json"):
        variants.main(["--score", str(tmp_path), "--data-dir", str(data_dir), "--mnist-dir", str(mnist_dir)])


@pytest.mark.parametrize("recipe", [{"validation": False}, None])  # None: saved before runs kept their recipe
def test_a_run_that_trained_on_the_validation_digits_is_not_scored_on_them(tmp_path, data_dir, mnist_dir, recipe):
    (tmp_path / "generator").mkdir()
    (tmp_path / "generator" / "training.json").write_text(json.dumps({"seed": 0, "recipe": recipe}))
    with pytest.raises(SystemExit, match="trained on the validation digits as well"):
        variants.main(["--score", str(tmp_path), "--data-dir", str(data_dir), "--mnist-dir", str(mnist_dir)])


def test_quality_vs_time_trains_each_arch_for_its_cpu_recipes_epochs():
    import quality_vs_time  # benchmarks/, as variants: it looked the recipe up by arch alone, a KeyError
    assert (quality_vs_time.cpu_epochs("dcgan"), quality_vs_time.cpu_epochs("seed")) == (12, 2)
