"""benchmarks/speed.py --set: what a change to a recipe costs, the recipe and the changed recipe timed in turn;
benchmarks/memory_format.py, the two layouts timed in turn; and benchmarks/bf16.py, the three ways of a training step.
For real, on a few rounds."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bf16  # noqa: E402
import memory_format  # noqa: E402
import speed  # noqa: E402


def test_a_change_is_timed_against_the_recipe_and_written_beside_the_speed_table(tmp_path, mnist_dir, capsys):
    speed.main(["--device", "cpu", "--recipes", "dcgan-quick", "--set", "g_fine=16", "--rounds", "2", "--steps", "1",
                "--out", str(tmp_path), "--mnist-dir", str(mnist_dir)])
    entry = json.loads((tmp_path / "speed-cpu-g_fine=16.json").read_text())
    (cost,) = entry["costs"]
    assert (cost["arch"], cost["budget"], cost["change"], cost["rounds"]) == ("dcgan", "quick", "g_fine=16", 2)
    for part in ("step", "generate"):
        low, high = cost[part]["ratio_range"]
        assert cost[part]["recipe_ms"] > 0 and cost[part]["changed_ms"] > 0 and low <= cost[part]["ratio"] <= high
    assert not (tmp_path / "speed-cpu.md").exists()  # the table of the recipes as they are is not overwritten
    table = (tmp_path / "speed-cpu-g_fine=16.md").read_text()
    assert "| dcgan-quick | g_fine=16 | generate(64) |" in table and table in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--recipes", "seed-cpu", "--set", "g_fine=16"], "seed-cpu with g_fine=16: "),
    (["--set", "gamma=1"], "'gamma' is not a recipe setting"),
    (["--set", "g_fine=16", "--rounds", "0"], "--rounds and --steps must be 1 or more"),
])
def test_a_change_that_cannot_be_timed_is_refused_by_name(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        speed.main(["--device", "cpu"] + argv)
    assert message in str(stopped.value) + capsys.readouterr().err


def test_the_two_layouts_are_timed_in_turn_for_each_network(tmp_path, mnist_dir, capsys):
    memory_format.main(["--rounds", "1", "--out", str(tmp_path), "--mnist-dir", str(mnist_dir)])
    entry = json.loads((tmp_path / "memory-format-cpu.json").read_text())
    assert entry["rounds"] == 1 and len(entry["parts"]) == 4
    for part in entry["parts"].values():
        assert part["nchw_ms"] > 0 and part["channels_last_ms"] > 0 and part["ratio_range"] == [part["ratio"]] * 2
    table = (tmp_path / "memory-format-cpu.md").read_text()
    assert "| the evaluation classifier's features of 1,000 digits |" in table and table in capsys.readouterr().out


def test_a_training_step_is_timed_in_fp32_and_both_ways_of_bf16(tmp_path, mnist_dir, capsys):
    bf16.main(["--rounds", "1", "--recipes", "dcgan-quick", "--out", str(tmp_path), "--mnist-dir", str(mnist_dir)])
    entry = json.loads((tmp_path / "bf16-cpu.json").read_text())
    assert entry["rounds"] == 1 and set(entry["recipes"]) == {"dcgan-quick"}
    arms = entry["recipes"]["dcgan-quick"]
    assert set(arms) == {"bf16_nchw", "bf16"} and arms["bf16"]["fp32_ms"] == arms["bf16_nchw"]["fp32_ms"] > 0
    assert all(arm[f"{name}_ms"] > 0 and arm["ratio_range"] == [arm["ratio"]] * 2 for name, arm in arms.items())
    table = (tmp_path / "bf16-cpu.md").read_text()
    assert "| dcgan-quick | bf16, D and classifier channels-last |" in table and table in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [(["--rounds", "0"], "--rounds must be 1 or more"),
                                           (["--recipes", "dcgan-tpu"], "--recipes takes names from")])
def test_bf16_refuses_what_it_cannot_time_by_name(argv, message):
    with pytest.raises(SystemExit) as stopped:
        bf16.main(argv)
    assert message in str(stopped.value)

