"""Training-time augmentation, driven by an explicit numpy Generator (reproducible per sample).

Colour is an era cue (sepia, faded colour, casts), so colour jitter stays light and never removes
colour; grain and crops imitate scanning and framing differences.

Two halves: `augment_view` (crop, flip: PIL, in the loader's workers) gives uint8 pixels and the drawn
photometric parameters; `finish` (jitter, grain, normalisation: torch, on any device) applies them to a
whole batch. On a GPU the workers then ship bytes, not floats, and the float work runs on the card.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from modeling.tensors import normalise_batch

AUGMENT_LEVELS = ("none", "light", "strong")
# level -> (min crop area, brightness/contrast jitter, chance of grain, max grain sigma)
_STRENGTH = {"light": (0.6, 0.10, 0.0, 0.0), "strong": (0.35, 0.25, 0.5, 0.06)}


# Photometric parameters per image: (apply, brightness, contrast, grain sigma, grain noise seed).
# `apply` 0 leaves the pixels as decoded (the evaluation view); only normalisation follows.
NO_PHOTOMETRIC = np.array([0.0, 1.0, 1.0, 0.0, 0.0])


def augment_view(image: Image.Image, size: int, level: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random resized crop and flip as HWC uint8, and the jitter and grain drawn for `finish`."""
    min_area, jitter, grain_p, grain_max = _STRENGTH[level]
    image = _random_resized_crop(image, size, min_area, rng)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    brightness, contrast = (float(x) for x in 1.0 + rng.uniform(-jitter, jitter, size=2))
    sigma, noise_seed = 0.0, 0.0
    if rng.random() < grain_p:
        sigma, noise_seed = float(rng.uniform(0.0, grain_max)), float(rng.integers(0, 2**52))
    return np.array(image, dtype=np.uint8), np.array([1.0, brightness, contrast, sigma, noise_seed])


def finish(pixels: torch.Tensor, params: torch.Tensor, mean: tuple[float, ...],
           std: tuple[float, ...]) -> torch.Tensor:
    """(N, H, W, 3) uint8 + (N, 5) parameters -> (N, 3, H, W) float32 model input, on the pixels' device.

    Brightness/contrast jitter around each image's grey mean, grain (one noise field for all channels,
    from the image's own seed), clip to [0, 1], then the model's normalisation. The result keeps the
    NHWC memory layout (channels_last).
    """
    x = pixels.float().div_(255.0)  # NHWC, contiguous: the reductions below run on plain memory
    params = params.to(x.device, torch.float64)
    apply = params[:, 0] > 0
    if bool(apply.any()):
        # (x - grey) * contrast + grey * brightness as one multiply-add; rows without jitter get x * 1 + 0 = x.
        brightness, contrast = (torch.where(apply, params[:, k], 1.0).float().view(-1, 1, 1, 1) for k in (1, 2))
        grey = x.flatten(1).mean(dim=1).view(-1, 1, 1, 1)
        x = torch.addcmul(grey * (brightness - contrast), x, contrast)
        for i in torch.nonzero(apply & (params[:, 3] > 0)).flatten().tolist():
            generator = torch.Generator(device=x.device).manual_seed(int(params[i, 4]))
            noise = torch.randn(x.shape[1:3], generator=generator, device=x.device) * float(params[i, 3])
            x[i] += noise[..., None]
        x.clamp_(0.0, 1.0)  # a no-op on rows without jitter: they are in [0, 1] already
    return normalise_batch(x.permute(0, 3, 1, 2), mean, std)


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
