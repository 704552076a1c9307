"""A drawing prepared as MNIST prepared its digits, the hand found from it, and the generator writing in that hand;
real MNIST test digits stand in for drawings."""

import numpy as np
import pytest
import torch
from PIL import Image

from cgan import ConditionalGenerator, load_generator
from cgan.classifier import load_classifier
from cgan.hands import Hand, prepare_drawing


@pytest.fixture(scope="module")
def generator():
    return load_generator()  # the bundled model: a hand is only worth finding in a trained generator


@pytest.fixture(scope="module")
def digits(test_set):
    images, labels = test_set
    return images[:400].numpy(), labels[:400].numpy()


def as_canvas(image, size=(400, 300), at=(60, 10), scale=10):
    """A test digit as a visitor's canvas gives it: 10x larger, black ink on white, somewhere on a bigger page."""
    page = np.full(size, 255, np.uint8)
    big = np.asarray(Image.fromarray(image).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST))
    page[at[0]:at[0] + 28 * scale, at[1]:at[1] + 28 * scale] = 255 - big
    return page


# --- preparing a drawing --------------------------------------------------------------------------------------------

def test_a_real_mnist_digit_comes_back_through_the_preparation_nearly_unchanged(digits):
    images, _ = digits
    prepared = np.stack([prepare_drawing(image) for image in images])
    assert prepared.dtype == np.uint8 and prepared.shape == images.shape
    difference = np.abs(prepared.astype(int) - images.astype(int)).mean((1, 2))
    assert np.median(difference) < 0.05 and np.percentile(difference, 95) < 1.0  # of 255


@pytest.mark.parametrize("form", ["canvas", "inverted", "float", "rgba on transparent", "rgb", "small"])
def test_a_drawing_in_any_form_is_prepared_as_the_digit_it_shows(digits, form):
    image = digits[0][3]
    drawing = {"canvas": as_canvas(image),
               "inverted": 255 - image,
               "float": image / 255.0,
               "rgba on transparent": np.dstack([np.full((28, 28, 3), 255, np.uint8), image]),
               "rgb": np.dstack([255 - as_canvas(image)] * 3),
               "small": np.asarray(Image.fromarray(image).resize((14, 14), Image.Resampling.BOX))}[form]
    prepared = prepare_drawing(drawing)
    assert np.corrcoef(prepared.ravel(), image.ravel())[0, 1] > (0.9 if form == "small" else 0.99)


def test_a_digit_is_scaled_to_fit_20_pixels_and_centred_by_its_mass():
    bar = np.zeros((100, 300), np.uint8)
    bar[40:60, 20:120] = 255  # a wide bar, off centre: 100 wide, 20 high
    prepared = prepare_drawing(bar).astype(float)
    rows, cols = np.nonzero(prepared)
    assert (cols.max() - cols.min() + 1, rows.max() - rows.min() + 1) == (20, 4)
    ys, xs = np.indices(prepared.shape)
    assert abs((ys * prepared).sum() / prepared.sum() - 14) <= 0.5 and abs((xs * prepared).sum() / prepared.sum() - 14) <= 0.5


@pytest.mark.parametrize("drawing, message", [
    (np.full((280, 280), 255, np.uint8), "the drawing is empty"),
    (np.zeros((280, 280, 4), np.uint8), "the drawing is empty"),
    (np.zeros((5,), np.uint8), "a drawing must be a grey, RGB or RGBA image, got an array of shape \\(5,\\)"),
    (np.zeros((4, 4, 2)), "a drawing must be a grey, RGB or RGBA image"),
    (np.array([["a"]]), "a drawing must be a grey, RGB or RGBA image"),
    (np.full((4, 4), np.nan), "a drawing's pixels must be finite numbers"),
])
def test_what_is_no_drawing_of_a_digit_is_refused_by_name(drawing, message):
    with pytest.raises(ValueError, match=message):
        prepare_drawing(drawing)


# --- finding a hand -------------------------------------------------------------------------------------------------

def test_a_found_hand_draws_its_own_input_closest(generator, digits):
    # Each of 12 sevens and 12 twos is matched by the drawing of its own hand more closely than by the drawings of
    # the others' hands: a hand that ignored its input (one noise vector for all) would draw them all alike.
    images, labels = digits
    classifier = load_classifier()
    for digit in (7, 2):
        inputs = images[labels == digit][:12]
        hands = [generator.find_hand(image) for image in inputs]
        assert all(isinstance(hand, Hand) and hand.digit == digit and hand.z.shape == (generator.z_dim,)
                   for hand in hands)
        with torch.inference_mode():
            drawn = classifier.features(torch.from_numpy(np.concatenate([generator.generate(digit, hand=h)
                                                                          for h in hands])))
            wanted = classifier.features(torch.from_numpy(inputs))
        distances = torch.cdist(wanted, drawn)
        assert (distances.argmin(1) == torch.arange(len(inputs))).float().mean() >= 0.75
        # .distance is that same distance (to a pixel rounded the other way: a batch of 8 there, of 1 here)
        assert torch.allclose(torch.tensor([h.distance for h in hands]), distances.diagonal(), atol=0.02)


def test_a_drawing_on_a_large_canvas_is_read_and_matched_as_the_digit_itself(generator, digits):
    # A canvas 400x300 with the digit 10x as large, off centre: without the preparation the classifier would see a
    # shrunken scrap of a page.
    images, labels = digits
    for image, label in zip(images[:5], labels[:5], strict=True):
        on_canvas, alone = generator.find_hand(as_canvas(image)), generator.find_hand(image)
        assert on_canvas.digit == label and torch.allclose(on_canvas.z, alone.z, atol=1e-4)


def test_the_hand_stays_on_the_priors_sphere_and_the_same_drawing_gives_the_same_hand(generator, digits):
    image = digits[0][0]
    hand = generator.find_hand(image)
    assert hand.z.norm().item() == pytest.approx(generator.noise_scale * generator.z_dim ** 0.5, rel=1e-4)
    assert torch.equal(generator.find_hand(image).z, hand.z)
    wide = generator.find_hand(image, noise_scale=1.4)
    assert wide.z.norm().item() == pytest.approx(1.4 * generator.z_dim ** 0.5, rel=1e-4)


def test_a_digit_given_is_the_hands_digit_and_a_scribble_is_refused(generator, digits):
    image, label = digits[0][0], digits[1][0]
    other = (int(label) + 1) % 10
    assert generator.find_hand(image, digit=other).digit == other
    scribble = np.zeros((28, 28), np.uint8)
    scribble[np.random.default_rng(0).random((28, 28)) < 0.35] = 255  # noise, no digit
    with pytest.raises(ValueError, match="the drawing does not look like a digit"):
        generator.find_hand(scribble)
    for digit in (10, -1, 2.5, "3"):
        with pytest.raises(ValueError, match=f"digit must be an integer 0-9, got {digit!r}"):
            generator.find_hand(image, digit=digit)


# --- writing in a hand ----------------------------------------------------------------------------------------------

def test_every_method_writes_in_a_hand_in_place_of_a_seed(generator, digits):
    hand = generator.find_hand(digits[0][0])
    with torch.no_grad():
        expected = generator.draw(hand.z[None].repeat(10, 1), torch.arange(10))
    assert np.array_equal(generator.style_rows(1, hand=hand)[0], expected)
    assert np.array_equal(generator.generate(4, hand=hand)[0], expected[4])
    number = generator.write_number("2026", hand=hand)
    assert number.shape[0] == 1 and number.shape[1] == 28
    assert np.array_equal(generator.morph(3, 8, hand=hand, frames=8)[0], expected[3])
    assert np.array_equal(generator.morph(3, 8, hand=hand, frames=8)[-1], expected[8])


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 2}, "n must be 1 with a hand"),
    ({"seed": 3}, "a hand is in place of a seed and a noise scale"),
    ({"noise_scale": 0.8}, "a hand is in place of a seed and a noise scale"),
])
def test_a_hand_with_a_seed_or_many_samples_is_refused(generator, digits, kwargs, message):
    hand = generator.find_hand(digits[0][0])
    with pytest.raises(ValueError, match=message):
        generator.generate(3, hand=hand, **kwargs)


@pytest.mark.parametrize("hand", [torch.zeros(5), "a hand", torch.full((64,), float("nan"))])
def test_a_hand_of_another_generator_or_none_at_all_is_refused(hand):
    with pytest.raises(ValueError, match="hand must be a Hand of this generator"):
        ConditionalGenerator("dcgan", "coverage", 255).generate(3, hand=hand)
