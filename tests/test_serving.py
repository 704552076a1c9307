"""The app's handler logic, without a browser or a server."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cgan import ConditionalGenerator
from cgan.serving import MAX_SAMPLES, ResultFiles, describe, load_for_app, parse_request, serve


@pytest.fixture(scope="module")
def generator():
    return ConditionalGenerator("dcgan")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return ResultFiles(tmp_path_factory.mktemp("results"), keep=4)


@pytest.mark.parametrize("sent, parsed", [
    ((7, 16, 42), (7, 16, 42)),
    (("7", "16", "42"), (7, 16, 42)),
    ((7.0, 16.0, 42.0), (7, 16, 42)),
    ((" 3 ", 1, ""), (3, 1, None)),
    ((0, MAX_SAMPLES, None), (0, 64, None)),
    ((9, 5, 2**32 - 1), (9, 5, 2**32 - 1)),
])
def test_requests_are_parsed_whatever_their_type(sent, parsed):
    assert parse_request(*sent) == parsed


@pytest.mark.parametrize("sent, message", [
    ((10, 16, None), "digit must be an integer 0-9, got 10"),
    (("seven", 16, None), "digit must be an integer 0-9, got 'seven'"),
    ((None, 16, None), "digit must be an integer 0-9, got None"),
    ((2.5, 16, None), "digit must be an integer 0-9, got 2.5"),
    ((True, 16, None), "digit must be an integer 0-9, got True"),
    ((7, 0, None), "n must be an integer 1-64, got 0"),
    ((7, 65, None), "n must be an integer 1-64, got 65"),
    ((7, "many", None), "n must be an integer 1-64, got 'many'"),
    ((7, float("nan"), None), "n must be an integer 1-64, got nan"),
    ((7, 16, -1), "seed must be an integer 0-4294967295, got -1"),
    ((7, 16, 2**32), "seed must be an integer 0-4294967295, got 4294967296"),
    ((7, 16, "abc"), "seed must be an integer 0-4294967295, got 'abc'"),
    ((7, 16, [1]), "seed must be an integer 0-4294967295, got \\[1\\]"),
])
def test_bad_requests_get_a_message_naming_the_input(sent, message):
    with pytest.raises(ValueError, match=message):
        parse_request(*sent)


def test_serve_returns_n_crisp_upscaled_digits_and_echoes_the_seed(generator, files):
    result = serve(generator, files, "4", 12, "99")
    assert result.seed == 99 and len(result.image_paths) == 12
    with Image.open(result.image_paths[0]) as image:
        assert image.format == "PNG"  # lossless: webp would smear 28x28 digits
        first = np.asarray(image)
    assert first.shape == (112, 112) and first.dtype == np.uint8
    # Nearest-neighbour: every 4x4 block is one flat pixel of the generated digit.
    assert np.array_equal(first[::4, ::4].repeat(4, 0).repeat(4, 1), first)
    assert np.array_equal(first[::4, ::4], generator.generate(4, 12, seed=99)[0])


def pixels(paths):
    return [np.asarray(Image.open(path)) for path in paths]


def test_empty_seed_draws_one_and_reports_it(generator, files):
    result = serve(generator, files, 2, 3, "")
    again = serve(generator, files, 2, 3, result.seed)
    assert 0 <= result.seed <= 2**32 - 1
    assert all(np.array_equal(a, b) for a, b in zip(pixels(result.image_paths), pixels(again.image_paths), strict=True))


def test_grid_png_holds_the_whole_result(generator, files):
    result = serve(generator, files, 1, 10, 5)
    path = Path(result.grid_path)
    assert path.suffix == ".png" and "digit-1_n-10_seed-5" in path.name
    with Image.open(path) as grid:
        assert grid.format == "PNG" and grid.mode == "L"
        assert grid.size == (2 * (8 * 30 + 2), 2 * (2 * 30 + 2))  # 8 per row, 2 rows, 2 px gaps, 2x upscaled


def test_only_the_newest_results_are_kept_on_disk(generator, tmp_path):
    files = ResultFiles(tmp_path, keep=2)
    results = [serve(generator, files, 1, 2, seed) for seed in range(4)]
    assert [Path(r.grid_path).exists() for r in results] == [False, False, True, True]
    assert [Path(r.image_paths[0]).exists() for r in results] == [False, False, True, True]


def test_unloadable_model_falls_back_to_the_bundled_one(caplog):
    generator = load_for_app("nobody/no-such-model-offline")
    assert Path(generator.source).name == "generator"
    assert "falling back to the bundled" in caplog.text


def test_about_text_names_the_source_and_architecture():
    generator = load_for_app()
    text = describe(generator)
    assert "checkpoints/generator" in text and "`dcgan` (small)" in text
    scale = generator.noise_scale  # the bundled model's own (its config.json's)
    assert (f"**Sampling:** noise scale {scale:g}" in text) == (scale != 1)
    assert "Sampling" not in describe(generator.with_noise_scale(1.0))
