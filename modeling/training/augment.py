"""Training-time augmentation, driven by an explicit numpy Generator (reproducible per sample).

Colour is an era cue (sepia, faded colour, casts), so colour jitter stays light and never removes
colour; grain and crops imitate scanning and framing differences.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from modeling.tensors import normalise

AUGMENT_LEVELS = ("none", "light", "strong")
# level -> (min crop area, brightness/contrast jitter, chance of grain, max grain sigma)
_STRENGTH = {"light": (0.6, 0.10, 0.0, 0.0), "strong": (0.35, 0.25, 0.5, 0.06)}


def augment_array(image: Image.Image, size: int, mean: tuple[float, ...], std: tuple[float, ...],
                  level: str, rng: np.random.Generator) -> np.ndarray:
    """A random resized crop, horizontal flip, brightness/contrast jitter and grain; CHW float32."""
    min_area, jitter, grain_p, grain_max = _STRENGTH[level]
    image = _random_resized_crop(image, size, min_area, rng)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    array = np.asarray(image, dtype=np.float32) / 255.0
    brightness, contrast = (float(x) for x in 1.0 + rng.uniform(-jitter, jitter, size=2))
    grey_mean = float(array.mean())
    array = (array - grey_mean) * contrast + grey_mean * brightness
    if rng.random() < grain_p:
        noise = rng.normal(0.0, rng.uniform(0.0, grain_max), size=array.shape[:2]).astype(np.float32)
        array = array + noise[..., None]
    return normalise(np.clip(array, 0.0, 1.0), mean, std)


def _random_resized_crop(image: Image.Image, size: int, min_area: float, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(min_area, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            return image.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h),
                                reducing_gap=2.0)
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))
