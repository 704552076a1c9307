"""cgan-digits: a conditional GAN that writes any handwritten digit 0-9 on demand.

    from cgan import load_generator
    images = load_generator().generate(digit=7, n=16, seed=42)  # uint8 (16, 28, 28), 0 = background, ink up to 255
"""

from cgan.generation import ConditionalGenerator
from cgan.hub import load_generator

__all__ = ["ConditionalGenerator", "load_generator"]
