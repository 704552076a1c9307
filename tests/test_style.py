"""Steering a hand: slant and stroke weight in every drawing method, on the bundled model and its style directions
(checkpoints/generator/style.safetensors, made by `python -m cgan.style checkpoints/generator`)."""

import re
import shutil

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from cgan import ConditionalGenerator, load_generator
from cgan.classifier import load_classifier
from cgan.data import to_uint8
from cgan.generation import STYLE_FILE, Steering
from cgan.hands import measure, slant, stroke_weight
from cgan.hub import BUNDLED_GENERATOR, UPLOADED, ModelFileError
from cgan.layout import ink_span
from cgan.serving import EXAMPLE_DRAWING

HANDS = 20  # hands per check: 200 digits, a second or two


@pytest.fixture(scope="module")
def generator():
    return load_generator()  # the bundled model, with its style directions


@pytest.fixture(scope="module")
def as_it_is(generator):
    """The hands' digits 0-9 unsteered, their measures (hands, 10, 2), and each digit's SDs of them (10, 2)."""
    rows = generator.style_rows(HANDS, seed=3)
    values = measure(rows)
    return rows, values, values.std(0)


def moved(generator, as_it_is, **style):
    """The mean change of the hands' measures, in their digit's SDs, for slant and weight `style`: (slant, weight)."""
    _, values, sd = as_it_is
    return ((measure(generator.style_rows(HANDS, seed=3, **style)) - values) / sd).mean((0, 1))


# --- the measures ---------------------------------------------------------------------------------------------------

def stroke(width, lean):
    """A vertical stroke `width` pixels wide and 16 long, leaning `lean` pixels to the right at its top, drawn 8x larger
    and averaged down (anti-aliased), as uint8."""
    from PIL import Image, ImageDraw
    big = Image.new("L", (224, 224))
    ImageDraw.Draw(big).line([(112 - 32 * lean, 176), (112 + 32 * lean, 48)], fill=255, width=8 * width)
    return np.array(big.resize((28, 28), Image.Resampling.BOX))


def test_slant_is_positive_for_a_stroke_leaning_right_and_grows_with_the_lean():
    leans = [slant(stroke(2, lean)).item() for lean in (-2, -1, 0, 1, 2)]
    assert leans == sorted(leans) and leans[2] == pytest.approx(0, abs=0.01) and leans[3] > 0.05
    assert leans[3] == pytest.approx(-leans[1], abs=0.01)  # a mirror image leans as far the other way


def test_stroke_weight_is_the_width_of_a_stroke_in_pixels_at_any_lean_and_ink_level():
    for width in (2, 3, 4):
        weights = [stroke_weight(stroke(width, lean)).item() for lean in (-1, 0, 1)]  # up to 27 degrees
        assert max(weights) - min(weights) < 0.1 * width and 0.75 * width < weights[1] < width  # 16 long: 0.8 w
    faint = (stroke(3, 1) * (200 / 255)).astype(np.uint8)
    assert stroke_weight(faint).item() == pytest.approx(stroke_weight(stroke(3, 1)).item(), abs=0.05)


# --- steering -------------------------------------------------------------------------------------------------------

def test_slant_moves_the_measured_slant_each_way_and_leaves_the_weight(generator, as_it_is):
    right, left = moved(generator, as_it_is, slant=2), moved(generator, as_it_is, slant=-2)
    assert right[0] > 1.2 and left[0] < -1.2  # 2 units: 1.7 SDs asked (cgan.style.UNIT)
    assert abs(right[1]) < 0.3 and abs(left[1]) < 0.3 and abs(right[1]) < right[0] / 4


def test_weight_moves_the_measured_weight_each_way_and_leaves_the_slant(generator, as_it_is):
    bold, fine = moved(generator, as_it_is, weight=2), moved(generator, as_it_is, weight=-2)
    assert bold[1] > 1.2 and fine[1] < -1.2
    assert abs(bold[0]) < 0.3 and abs(fine[0]) < 0.3 and abs(bold[0]) < bold[1] / 4


def test_steered_digits_are_still_read_as_the_digit_asked(generator):
    classifier = load_classifier()
    for style in ({"slant": 2}, {"slant": -2}, {"weight": 2}, {"weight": -2}, {"slant": 1.5, "weight": -1.5}):
        rows = torch.from_numpy(generator.style_rows(HANDS, seed=4, **style))
        read = classifier.predict(rows.reshape(-1, 28, 28)).reshape(HANDS, 10) == torch.arange(10)
        assert read.float().mean() >= 0.98, style


def test_zero_draws_the_hand_as_it_is(generator):
    assert np.array_equal(generator.generate(4, 6, seed=2, slant=0, weight=0.0), generator.generate(4, 6, seed=2))
    assert not np.array_equal(generator.generate(4, 6, seed=2, slant=0.25), generator.generate(4, 6, seed=2))


def test_same_seed_and_settings_give_the_same_images_in_every_method(generator):
    style = {"slant": 1.25, "weight": -0.75}
    for draw in (lambda: generator.generate(2, 5, 11, **style), lambda: generator.style_rows(3, 11, **style),
                 lambda: generator.write_number("2026", 2, 11, **style),
                 lambda: generator.morph(3, 8, 11, 12, 8, **style)):
        assert np.array_equal(draw(), draw())


def test_one_setting_steers_the_same_hand_alike_in_every_method(generator):
    style = {"slant": -1.5, "weight": 1}
    rows = generator.style_rows(4, 21, **style)
    assert np.array_equal(generator.generate(6, 4, 21, **style), rows[:, 6])
    number, spans = generator.write_number("6", 1, 21, return_spans=True, **style)
    (begin, end), = spans[0]
    start, stop = ink_span(rows[0, 6])
    assert np.array_equal(number[0][:, begin:end], rows[0, 6][:, start:stop])
    assert np.abs(generator.morph(6, 1, 21, frames=8, **style)[0].astype(int) - rows[0, 6]).max() <= 1
    # A hand found from a drawing writes bolder too ("my hand, bolder"), its digit as it is otherwise.
    hand = generator.find_hand(generator.generate(7, seed=5)[0])
    fine, plain, bold = (generator.generate(7, hand=hand, weight=weight) for weight in (-2, 0, 2))
    assert stroke_weight(fine) + 0.1 < stroke_weight(plain) < stroke_weight(bold) - 0.1
    assert np.array_equal(generator.style_rows(1, hand=hand, weight=2)[0, 7], bold[0])


def test_a_steered_hand_keeps_its_ink_level():
    inked = ConditionalGenerator("dcgan", output="coverage", ink=253, ink_levels={252: 0.3, 253: 0.4, 254: 0.3})
    inked.style = load_generator().style
    z = inked.noise(50, seed=1)
    labels = torch.full((50,), 3)
    levels = inked.full_ink(z)
    steered = inked.steered(z, labels, slant=2, weight=-2)
    assert not torch.equal(inked.full_ink(steered), levels)  # the steered noise alone would draw other levels
    with torch.no_grad():
        expected = to_uint8(inked.net(steered, labels), levels).numpy()
    assert np.array_equal(inked.generate(3, 50, seed=1, slant=2, weight=-2), expected)


@pytest.mark.parametrize("name", ["slant", "weight"])
@pytest.mark.parametrize("value", [2.5, -2.01, float("nan"), float("inf"), "1", True, None, [1]])
def test_a_bad_setting_is_refused_naming_it(generator, name, value):
    for draw in (lambda: generator.generate(1, **{name: value}), lambda: generator.style_rows(1, **{name: value}),
                 lambda: generator.write_number("12", **{name: value}), lambda: generator.morph(1, 2, **{name: value})):
        with pytest.raises(ValueError, match=f"^{name} must be a number -2 to 2 \\(0: unchanged\\), got "):
            draw()


# --- where the directions are kept ---------------------------------------------------------------------------------

def test_a_model_without_style_directions_draws_at_0_and_says_how_to_make_them(tmp_path):
    shutil.copytree(BUNDLED_GENERATOR, tmp_path / "model")
    (tmp_path / "model" / STYLE_FILE).unlink()
    plain = load_generator(tmp_path / "model")
    assert plain.style is None
    assert np.array_equal(plain.generate(5, 3, seed=1), load_generator().generate(5, 3, seed=1))
    with pytest.raises(ValueError, match=f"no style directions .*python -m cgan.style {re.escape(plain.source)}$"):
        plain.generate(5, 3, seed=1, weight=1)
    hand = plain.find_hand(EXAMPLE_DRAWING)  # found, and written, as it is
    assert hand.style is None
    assert np.array_equal(plain.style_rows(1, hand=hand)[0], plain.draw(hand.z[None].repeat(10, 1), torch.arange(10)))
    assert STYLE_FILE in UPLOADED  # --push-to-hub takes them with the model


def test_damaged_or_mismatched_style_directions_are_refused_naming_the_file(tmp_path, generator):
    shutil.copytree(BUNDLED_GENERATOR, tmp_path / "model")
    path = tmp_path / "model" / STYLE_FILE
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelFileError, match=f"{re.escape(str(path))} is not a model's style directions"):
        load_generator(tmp_path / "model")
    wrong = Steering(**{**{name: getattr(generator.style, name) for name in Steering.TENSORS},
                        "directions": torch.zeros(10, 2, 32)})
    wrong.save(path)
    with pytest.raises(ModelFileError, match="its directions are of shape \\(10, 2, 32\\), where this model's would be "
                                             "\\(10, 2, 64\\)"):
        load_generator(tmp_path / "model")
    tensors, _ = saved(BUNDLED_GENERATOR / STYLE_FILE)  # as an earlier version saved them: no usual measures
    save_file({name: tensor for name, tensor in tensors.items() if not name.startswith("usual")}, path)
    with pytest.raises(ModelFileError, match=f"{re.escape(str(path))} is not a model's style directions as this "
                                             "version saves them: it lacks usual_mean, usual_sd; make it again"):
        load_generator(tmp_path / "model")


def test_the_directions_saved_load_back_the_same(tmp_path, generator):
    generator.style.save(tmp_path / STYLE_FILE)
    loaded = Steering.load(tmp_path / STYLE_FILE, generator.z_dim)
    for name in ("directions", "steps", "cross", "grid", "usual_mean", "usual_sd"):
        assert torch.equal(getattr(loaded, name), getattr(generator.style, name))
    assert loaded.radius == generator.style.radius


def saved(path):
    """The tensors and the metadata of a safetensors file (its header's order of metadata keys varies from one save
    to the next, so the bytes of two equal files may differ)."""
    with safe_open(path, "pt") as file:
        return {name: file.get_tensor(name) for name in file.keys()}, file.metadata()


@pytest.mark.slow
def test_the_command_makes_the_same_directions_each_time_and_they_steer(tmp_path, monkeypatch, capsys):
    """`python -m cgan.style FOLDER` on a copy of the bundled model, fitted on fewer hands (the real fit: minutes)."""
    import cgan.style
    from cgan.style import main
    small = {"hands": 600, "gradient_hands": 200, "calibration_hands": 60}
    real_fit = cgan.style.fit_style
    monkeypatch.setattr(cgan.style, "fit_style", lambda generator, **kwargs: real_fit(generator, **kwargs, **small))
    for copy in ("a", "b"):
        shutil.copytree(BUNDLED_GENERATOR, tmp_path / copy, ignore=shutil.ignore_patterns(STYLE_FILE))
        if copy == "b":  # directions damaged (or of an older version) are made again, as the refusal says
            (tmp_path / copy / STYLE_FILE).write_bytes(b"damaged")
        main([str(tmp_path / copy)])
        assert f"wrote {tmp_path / copy / STYLE_FILE}" in capsys.readouterr().out
    (a, a_metadata), (b, b_metadata) = (saved(tmp_path / copy / STYLE_FILE) for copy in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a) and a_metadata == b_metadata
    steered = load_generator(tmp_path / "a")
    rows, bold = steered.style_rows(HANDS, seed=3), steered.style_rows(HANDS, seed=3, weight=2)
    assert (stroke_weight(bold) - stroke_weight(rows)).mean() > 0.3
    with pytest.raises(SystemExit, match="is not a model folder"):
        main([str(tmp_path / "missing")])


def test_the_benchmark_counts_a_digit_that_stops_rising_and_the_others_drag():
    from benchmarks.style import STEPS, summary
    steps = torch.tensor(STEPS)[:, None, None]
    values = torch.zeros(len(STEPS), 4, 10, 3)  # 4 hands, their measures 2 SDs apart per unit asked
    values[..., 1] = 2 * steps
    values[..., 0] = 0.1 * steps  # the slant dragged along, 0.2 SD at 2
    values[5, 0, 3, 1] = values[4, 0, 3, 1]  # hand 0's 3 stops rising at 0.5
    result = summary(values, torch.full((10, 3), 2.0), axis=1)
    assert result["rises"] == pytest.approx(39 / 40) and result["hands_rise"] == 1.0
    assert result["span"] == pytest.approx(4.0) and result["other_moves"] == pytest.approx(0.1)


def test_the_benchmark_measures_steered_digits_against_real_digits_moved_as_far():
    # Real "digits": 2-d features whose first coordinate is the measure. A model (its digits off the real ones by 0.3
    # in the other coordinate) whose steered digits are real digits of the style asked for lies as near them as its
    # unsteered digits lie to real ones (a ratio of about 1); one whose digits did not move lies further; and real
    # digits moved that far lie further from real digits as they are than real digits do.
    from benchmarks.style import like_ratio, moved_ratio, tilts
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 4000)
    features = rng.normal(size=(len(labels), 2))
    real = (torch.from_numpy(labels), features, torch.from_numpy(features[:, :1]).float())
    weights = tilts(real, 0, torch.ones(10))  # one SD along the measure
    mine = [features[labels == digit] for digit in range(10)]
    off = np.array([0.0, 0.3])
    moved = [rng.choice(m, 2000, p=w / w.sum()) + off for m, w in zip(mine, weights, strict=True)]  # drawn tilted
    unmoved = [rng.choice(m, 2000) + off for m in mine]
    assert np.mean([m[:, 0].mean() for m in moved]) == pytest.approx(1.0, abs=0.1)
    assert like_ratio(real, (unmoved, moved), weights) == pytest.approx(1.0, abs=0.3)
    assert like_ratio(real, (unmoved, unmoved), weights) > 5
    others = [rng.normal(size=(4000, 2)) for _ in range(10)]  # other real digits, as the test set is
    assert moved_ratio(real, others, weights) > 5


def test_style_directions_of_a_hub_model_say_how_to_make_them_again(tmp_path, monkeypatch):
    # A Hub repo's style file of an older version: the message says how to make it again, which for a repo means a
    # local copy first (the Hub is out of reach here: hf_hub_download is answered from a local folder).
    shutil.copytree(BUNDLED_GENERATOR, tmp_path / "repo")
    tensors, _ = saved(BUNDLED_GENERATOR / STYLE_FILE)
    save_file({name: tensor for name, tensor in tensors.items() if name != "usual_sd"}, tmp_path / "repo" / STYLE_FILE)
    monkeypatch.setattr("huggingface_hub.hf_hub_download", lambda repo, name, **kwargs: str(tmp_path / "repo" / name))
    with pytest.raises(ModelFileError, match="it lacks usual_sd; make it again with python -m cgan.style FOLDER "
                                             "\\(the repo downloaded: huggingface-cli download you/cgan-digits "
                                             "--local-dir FOLDER\\)"):
        load_generator("you/cgan-digits")
    radius = {**tensors, "radius": torch.zeros(2)}
    save_file(radius, tmp_path / "repo" / STYLE_FILE)
    with pytest.raises(ModelFileError, match="is damaged: its radius is not one number"):
        load_generator("you/cgan-digits")
