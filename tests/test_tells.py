"""The helpers of benchmarks/tells.py, on known images and on the bundled model."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from tells import blurred, box_side, thresholded, with_box  # noqa: E402

from cgan import load_generator  # noqa: E402


def stroke(top, left, height, width, value=200):
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    image[0, top:top + height, left:left + width] = value
    return image


def test_the_box_side_is_the_larger_side_of_the_inks_extent():
    images = torch.cat([stroke(4, 10, 20, 3), stroke(10, 2, 5, 17), stroke(0, 0, 1, 1, value=1),
                        torch.zeros(1, 28, 28, dtype=torch.uint8)])
    images[1, 27, 27] = 1  # one faint pixel far away widens the box: any ink counts, as in MNIST's 20 px box
    assert box_side(images).tolist() == [20, 26, 1, 0]


def test_thresholding_keeps_only_the_pixels_at_or_above_the_level_as_full_ink():
    images = torch.tensor([[[0, 1, 127, 128, 253]]], dtype=torch.uint8)
    assert thresholded(images, 128).tolist() == [[[0, 0, 0, 255, 255]]]
    assert thresholded(images, 1).tolist() == [[[0, 255, 255, 255, 255]]]


def test_blurring_keeps_the_ink_and_spreads_it():
    images = stroke(10, 10, 8, 2)
    out = blurred(images)
    assert out.dtype == torch.uint8
    assert abs(out.float().sum() - images.float().sum()) / images.float().sum() < 0.01  # ink kept (to rounding)
    assert out[0, 13, 8] > 0 and out[0, 13, 10] < 200  # spread beside the stroke, softened on it


def test_with_box_gives_only_samples_of_that_box_and_each_digit_in_order():
    generator = load_generator()
    images = with_box(generator, 20, 3, batch=200)
    assert images.shape == (30, 28, 28)
    assert (box_side(images) == 20).all()
    assert with_box(generator, 3, 1, batch=50, tries=2) is None  # no digit is 3 px tall: said, not looped on
