"""Pixels to model input: the centre view at evaluation and the normalisation every view ends with.

Files become pixels only in dataset.imageio (the one decoder); this module starts from its RGB image.
"""

from __future__ import annotations

import numpy as np
import torch
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
    batch = torch.from_numpy(np.asarray(array, dtype=np.float32).transpose(2, 0, 1))[None]
    return np.ascontiguousarray(normalise_batch(batch, mean, std)[0].numpy())


def normalise_batch(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(N, C, H, W) float in [0, 1] -> the model's input: (x - mean) / std per channel, on x's device."""
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


def eval_view(image: Image.Image, size: int) -> Image.Image:
    """The deterministic view a model sees at evaluation, as pixels: short side to `size`, centre square."""
    return centre_crop(resize_short_side(image, size), size)


def eval_array(image: Image.Image, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """The evaluation view as model input: CHW float32, normalised."""
    return to_tensor_array(eval_view(image, size), mean, std)
