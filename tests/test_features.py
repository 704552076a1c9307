"""Beyond one digit, with the shipped model: the noise scale per call, numbers in one hand, one hand across 0-9,
morphs, and the shell command for each."""

import numpy as np
import pytest
import torch
from PIL import Image

from cgan import load_generator
from cgan.classifier import load_classifier
from cgan.hands import cut_out, hand_ratio, number_readback, shared_hand, stroke_style
from cgan.generate import main
from cgan.drawings import slerp
from cgan.layout import GAP, MARGIN, SPACE, ink_span


@pytest.fixture(scope="module")
def generator():
    return load_generator()


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


def steps(frames):
    flat = frames.reshape(len(frames), -1).astype(np.float64)
    return np.linalg.norm(np.diff(flat, axis=0), axis=1)


# --- the noise scale of a call --------------------------------------------------------------------------------------

def test_a_calls_noise_scale_scales_the_noise_and_none_means_the_models_own(generator):
    z = torch.randn(6, generator.z_dim, generator=torch.Generator().manual_seed(4))  # what generate draws for seed 4
    at_half = generator.draw(z * 0.5, torch.full((6,), 2))
    assert np.array_equal(generator.generate(2, 6, seed=4, noise_scale=0.5), at_half)
    assert np.array_equal(generator.generate(2, 6, seed=4, noise_scale=None), generator.generate(2, 6, seed=4))
    assert not np.array_equal(generator.generate(2, 6, seed=4, noise_scale=1.5), generator.generate(2, 6, seed=4))


@pytest.mark.parametrize("bad", [0.29, 1.51, 0, -1, float("nan"), float("inf"), "1", True])
def test_a_noise_scale_outside_0_3_to_1_5_is_refused_by_every_method(generator, bad):
    for call in (lambda: generator.generate(1, 2, 0, bad), lambda: generator.style_rows(2, 0, bad),
                 lambda: generator.write_number("12", 1, 0, bad), lambda: generator.morph(1, 2, 0, None, 4, bad)):
        with pytest.raises(ValueError, match="noise_scale must be a number 0.3-1.5"):
            call()


def test_a_lower_noise_scale_draws_more_alike_digits(generator):
    def spread(images):
        return steps(images).mean()  # mean distance between consecutive samples
    assert spread(generator.generate(5, 64, 1, 0.5)) < 0.9 * spread(generator.generate(5, 64, 1))


def test_neatness_does_what_it_says_more_accurate_and_less_varied_at_0_5(generator, test_set):
    from cgan.evaluate import Evaluator
    images, labels = test_set
    evaluator = Evaluator(load_classifier(), images[:2000], labels[:2000])
    saved, neat = (evaluator.score_generator(g, 200, seed=3) for g in (generator, generator.with_noise_scale(0.5)))
    assert neat["accuracy"] >= saved["accuracy"] and neat["recall"] < saved["recall"] - 0.1


# --- write a number -------------------------------------------------------------------------------------------------

def test_a_number_is_written_with_even_gaps_and_no_digit_touching_another(generator):
    numbers, spans = generator.write_number("0151 234", n=3, seed=7, return_spans=True)
    assert numbers.dtype == np.uint8 and numbers.shape[:2] == (3, 28) and len(spans) == 3
    for number, places in zip(numbers, spans, strict=True):
        assert len(places) == 7
        gaps = [b[0] - a[1] for a, b in zip(places, places[1:], strict=False)]
        assert gaps == [GAP, GAP, GAP, GAP + SPACE, GAP, GAP]  # the space after the fourth digit
        for start, stop in places:
            assert number[:, start:stop].max() > 100  # a digit's ink is where its span says
        inked = np.zeros(number.shape[1], dtype=bool)
        for start, stop in places:
            inked[start:stop] = True
        assert number[:, ~inked].max() == 0  # nothing between the digits: no stroke reaches into a gap
        assert places[0][0] >= MARGIN and places[-1][1] <= number.shape[1] - MARGIN


def test_a_number_is_one_hand_and_each_sample_another(generator):
    numbers, spans = generator.write_number("777", n=2, seed=11, return_spans=True)
    sevens = [[cut_out(number, span) for span in places] for number, places in zip(numbers, spans, strict=True)]
    # The three 7s of a sample are the same 7 (one noise vector); the two samples are different hands.
    assert all(np.array_equal(sevens[0][0], seven) for seven in sevens[0][1:])
    assert not np.array_equal(sevens[0][0], sevens[1][0])


def test_same_seed_same_number_and_the_hand_is_generates_sample(generator):
    first, again = generator.write_number("2026", 4, seed=3), generator.write_number("2026", 4, seed=3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, generator.write_number("2026", 4, seed=4))
    numbers, spans = generator.write_number("5", 4, seed=3, return_spans=True)
    alone = generator.generate(5, 4, seed=3)  # sample i is drawn with generate's noise vector i
    for number, (span,), five in zip(numbers, spans, alone, strict=True):
        difference = np.abs(cut_out(number, span).astype(int) - cut_out(five, ink_span(five)).astype(int))
        assert difference.max() <= 1


def test_cut_out_digits_of_written_numbers_read_as_intended(generator, classifier):
    assert number_readback(generator, classifier, n_numbers=100, length=8, seed=1) >= 0.99


@pytest.mark.parametrize("text", ["", " ", "12a", "1 2  3", "1234567890123", "-12", "1.5", "٣", None, [1, 2], 2.5, True])
def test_a_bad_number_is_refused_by_name(generator, text):
    with pytest.raises(ValueError, match="text must be 1-12 digits"):
        generator.write_number(text)


def test_twelve_digits_spaces_and_an_integer_are_written(generator):
    assert generator.write_number("1234 5678 9012").shape[0] == 1
    assert np.array_equal(generator.write_number(2026, seed=1), generator.write_number("2026", seed=1))
    assert np.array_equal(generator.write_number(0, seed=1), generator.write_number("0", seed=1))


@pytest.mark.parametrize("call, message", [
    (lambda g: g.write_number("7", 0), "n must be an integer 1-10000, got 0"),
    (lambda g: g.write_number("7", 10_001), "n must be an integer 1-10000, got 10001"),
    (lambda g: g.style_rows(0), "n must be an integer 1-214748364, got 0"),
    (lambda g: g.style_rows(2**31 // 10 + 1), "n must be an integer 1-214748364, got 214748365"),
])
def test_the_count_of_numbers_or_rows_is_checked_by_name(generator, call, message):
    with pytest.raises(ValueError) as error:
        call(generator)
    assert str(error.value) == message


def test_the_largest_count_of_numbers_and_the_smallest_of_rows_are_drawn(generator):
    assert generator.write_number("7", 10_000, seed=1).shape[0] == 10_000
    assert generator.style_rows(1, seed=1).shape == (1, 10, 28, 28)


def test_the_noise_scale_range_includes_its_ends(generator):
    for scale in (0.3, 1.5):
        assert generator.generate(1, 2, seed=0, noise_scale=scale).shape == (2, 28, 28)


# --- one hand, every digit ------------------------------------------------------------------------------------------

def test_style_rows_are_generates_samples_of_every_digit(generator):
    rows = generator.style_rows(5, seed=3)
    assert rows.shape == (5, 10, 28, 28) and rows.dtype == np.uint8
    for digit in range(10):  # row i, column d: generate(d)'s image i (up to a rounding step of a few pixels)
        difference = np.abs(rows[:, digit].astype(int) - generator.generate(digit, 5, seed=3).astype(int))
        assert difference.max() <= 1 and (difference > 0).mean() < 0.01
    assert np.array_equal(rows, generator.style_rows(5, seed=3))


def test_a_row_shares_a_hand_and_shuffled_rows_do_not(generator, classifier):
    measured = shared_hand(generator, classifier, rows=60, seed=2)
    assert measured["classifier_features"] < 0.99 and measured["ink_and_slant"] < 0.6
    # The control: the same digits with each column's rows shuffled, so a row holds ten different hands.
    images = torch.from_numpy(generator.style_rows(60, seed=2))
    rng = torch.Generator().manual_seed(0)
    shuffled = torch.stack([images[torch.randperm(60, generator=rng), d] for d in range(10)], dim=1)
    with torch.inference_mode():
        features = classifier.features(shuffled.reshape(-1, 28, 28)).reshape(60, 10, -1)
    assert hand_ratio(features) > 0.995


def test_stroke_style_measures_the_ink_and_the_slant_of_drawn_strokes():
    def stroke(xs, value=255):  # a stroke through (row 4 + i, column xs[i])
        image = np.zeros((28, 28), np.uint8)
        image[np.arange(4, 4 + len(xs)), xs] = value
        return image
    upright, leaning, backwards = stroke([14] * 20), stroke(np.arange(4, 24)), stroke(27 - np.arange(4, 24), 51)
    faint_dash = stroke([10, 11], 51)  # less ink than one full pixel
    style = stroke_style(np.stack([upright, leaning, backwards, faint_dash]))
    torch.testing.assert_close(style, torch.tensor([[20.0, 0.0], [20.0, 1.0], [4.0, -1.0], [0.4, 1.0]]))
    assert stroke_style(np.stack([upright, leaning])[None]).shape == (1, 2, 2)


# --- morphs ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["digits", "seeds", "both"])
def test_a_morph_moves_evenly_from_one_end_to_the_other(generator, kind):
    to_digit, to_seed = {"digits": (8, None), "seeds": (3, 6), "both": (8, 6)}[kind]
    frames = generator.morph(3, to_digit, seed=5, to_seed=to_seed, frames=20)
    assert frames.shape == (20, 28, 28) and frames.dtype == np.uint8
    moves = steps(frames)  # frames at even steps of the way in pixels (at even steps of t: 0.65-1.16 x the median)
    assert 0.9 * np.median(moves) <= moves.min() and moves.max() <= 1.1 * np.median(moves)
    start, end = generator.generate(3, 1, seed=5)[0], generator.generate(to_digit, 1, seed=to_seed or 5)[0]
    assert np.abs(frames[0].astype(int) - start).max() <= 1 and np.abs(frames[-1].astype(int) - end).max() <= 1


def test_a_morph_asked_for_its_ends_noise_scale_draws_both_ends_at_it(generator):
    frames = generator.morph(3, 8, seed=5, to_seed=6, frames=5, noise_scale=0.5)
    start, end = generator.generate(3, 1, seed=5, noise_scale=0.5)[0], generator.generate(8, 1, 6, 0.5)[0]
    assert np.abs(frames[0].astype(int) - start).max() <= 1 and np.abs(frames[-1].astype(int) - end).max() <= 1


def test_a_morph_where_nothing_changes_is_still_frames_of_that_digit(generator):
    frames = generator.morph(4, seed=9)  # 24 frames by default
    assert frames.shape == (24, 28, 28) and (frames == frames[0]).all()
    assert np.abs(frames[0].astype(int) - generator.generate(4, 1, seed=9)[0]).max() <= 1
    assert not np.array_equal(generator.morph(4, frames=2), generator.morph(4, frames=2))  # no seed: a fresh one


def test_slerp_follows_the_great_circle_at_the_blended_norm():
    z0, z1 = torch.tensor([0.5, 0.0]), torch.tensor([0.5 * np.cos(0.5), 0.5 * np.sin(0.5)]).float()  # 0.5 rad apart
    middle = slerp(z0, z1, torch.tensor([0.5]))[0]  # a straight line's middle would be 0.5 * cos(0.25) long
    torch.testing.assert_close(middle, torch.tensor([0.5 * np.cos(0.25), 0.5 * np.sin(0.25)]).float())
    # The same direction (its cosine rounds to just above 1 in float32 for this vector): the straight line, finite.
    z = torch.randn(128, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(slerp(z, 2 * z, torch.tensor([0.0, 0.5, 1.0])), torch.stack([z, 1.5 * z, 2 * z]))


def test_a_morph_between_seeds_keeps_the_noise_on_the_sphere():
    z0, z1 = torch.randn(64, generator=torch.Generator().manual_seed(1)), torch.randn(64)
    path = slerp(z0, z1, torch.linspace(0, 1, 11))
    torch.testing.assert_close(path[0], z0), torch.testing.assert_close(path[-1], z1)
    norms = path.norm(dim=1)  # a straight line would dip to about 0.7 of the norm in the middle
    assert norms.min() > 0.95 * min(z0.norm(), z1.norm())


@pytest.mark.parametrize("kwargs, message", [
    ({"digit": 10}, "digit must be an integer 0-9"), ({"digit": 1, "to_digit": -1}, "to_digit must be an integer 0-9"),
    ({"digit": 1, "frames": 1}, "frames must be an integer 2-240"), ({"digit": 1, "seed": -2}, "seed must be"),
    ({"digit": 1, "to_seed": "x"}, "seed must be"),
])
def test_bad_morph_arguments_are_refused_by_name(generator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generator.morph(**kwargs)


# --- the shell command ----------------------------------------------------------------------------------------------

def test_shell_command_writes_a_number_rows_and_a_morph(tmp_path, generator):
    main(["--number", "0151 234", "--n", "3", "--seed", "7", "--out", str(tmp_path / "number.npy")])
    assert np.array_equal(np.load(tmp_path / "number.npy"), generator.write_number("0151 234", 3, 7))
    main(["--style-rows", "--n", "4", "--seed", "3", "--noise-scale", "0.6", "--out", str(tmp_path / "rows.png")])
    with Image.open(tmp_path / "rows.png") as picture:
        assert picture.size == (2 * (10 * 30 + 2), 2 * (4 * 30 + 2))
    main(["--morph", "--digit", "3", "--to-digit", "8", "--seed", "5", "--frames", "12", "--out",
          str(tmp_path / "morph.gif")])
    with Image.open(tmp_path / "morph.gif") as animation:
        assert animation.format == "GIF" and animation.is_animated and animation.n_frames == 12
        assert animation.info["loop"] == 0 and animation.size == (112, 112)
    main(["--morph", "--digit", "3", "--to-digit", "8", "--seed", "5", "--frames", "12", "--out",
          str(tmp_path / "morph.npy")])
    assert np.array_equal(np.load(tmp_path / "morph.npy"), generator.morph(3, 8, 5, None, 12))


@pytest.mark.parametrize("argv, message", [
    (["--number", "12x", "--out", "{}/x.png"], "text must be 1-12 digits"),
    (["--morph", "--out", "{}/x.gif"], "--digit is required for morph"),
    (["--morph", "--digit", "3", "--out", "{}/x.jpg"], "--out must end in .gif or .png or .npy for morph"),
    (["--digit", "3", "--to-seed", "4", "--out", "{}/x.png"], "--to-digit and --to-seed are for --morph"),
    (["--digit", "3", "--noise-scale", "2", "--out", "{}/x.png"], "noise_scale must be a number 0.3-1.5"),
])
def test_shell_command_refuses_bad_feature_input_with_a_message(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main([arg.format(tmp_path) for arg in argv])
    assert message in str(exit_.value) + capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
