"""Digits set side by side as a written number: each cropped to its ink, a small even gap, a wider one per space.

Images are uint8 (28, W), 0 = background, as everywhere in the project.
"""

import numpy as np

INK = 48  # a column with a pixel this bright or more holds ink; fainter pixels are anti-aliasing or haze
GAP = 4  # pixels between two digits: about a pen stroke's width, as in handwriting
SPACE = 12  # pixels a space adds: about half a digit's width
MARGIN = 2  # pixels of background before the first digit and after the last


def ink_span(image):
    """(start, stop) of the columns of a (28, 28) digit that hold ink, widened by one column on each side for the
    anti-aliased edge. A digit with no ink keeps a narrow span at the middle, so it still takes a place."""
    columns = np.flatnonzero(image.max(axis=0) >= INK)
    if len(columns) == 0:
        middle = image.shape[1] // 2
        return middle - 2, middle + 2
    return max(0, columns[0] - 1), min(image.shape[1], columns[-1] + 2)


def lay_out(digits, text):
    """One written number: `digits` uint8 (k, 28, 28) are the k digits of `text` in order; each space in `text` adds
    SPACE pixels. Returns (image uint8 (28, W), spans): spans[i] = (start, stop), where digit i lies in the image."""
    spans = [ink_span(image) for image in digits]
    width = MARGIN * 2 + sum(stop - start for start, stop in spans) + GAP * (len(spans) - 1) + SPACE * text.count(" ")
    canvas = np.zeros((digits.shape[1], width), dtype=np.uint8)
    x, placed, i = MARGIN, [], 0
    for char in text:
        if char == " ":
            x += SPACE
            continue
        start, stop = spans[i]
        canvas[:, x:x + stop - start] = digits[i][:, start:stop]
        placed.append((x, x + stop - start))
        x += stop - start + GAP
        i += 1
    return canvas, placed


def centre(images, width):
    """Place (28, w_i) images in the middle of `width`-wide backgrounds; returns (uint8 (n, 28, width), offsets)."""
    out = np.zeros((len(images), images[0].shape[0], width), dtype=np.uint8)
    offsets = []
    for i, image in enumerate(images):
        offset = (width - image.shape[1]) // 2
        out[i, :, offset:offset + image.shape[1]] = image
        offsets.append(offset)
    return out, offsets
