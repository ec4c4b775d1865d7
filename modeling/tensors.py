"""Pixels to model input: the centre view at evaluation and the normalisation every view ends with.

Files become pixels only in dataset.imageio (the one decoder); this module starts from its RGB image.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from dataset.imageio import resize_short_side


def centre_crop(image: Image.Image, size: int) -> Image.Image:
    """The central size x size square."""
    width, height = image.size
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def to_tensor_array(image: Image.Image, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """HWC uint8 RGB -> CHW float32, normalised by the model's mean/std."""
    return normalise(np.asarray(image, dtype=np.float32) / 255.0, mean, std)


def normalise(array: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """HWC float in [0, 1] -> CHW float32 normalised by the model's mean/std."""
    array = (array - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)


def eval_array(image: Image.Image, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """The deterministic view a model sees at evaluation: short side to `size`, centre square."""
    return to_tensor_array(centre_crop(resize_short_side(image, size), size), mean, std)
