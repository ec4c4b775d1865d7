"""Decode any photograph to RGB once, at the size it is needed: EXIF orientation, odd modes, bomb guard.

Pillow's decompression-bomb guard (Image.MAX_IMAGE_PIXELS) stays on: images over the limit raise
ImageTooLarge before their pixels are decoded.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from modeling.errors import ImageTooLarge, UnreadableImage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
# Pillow raises these for truncated, corrupt or unsupported files.
_DECODE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, EOFError)


def load_image(source: str | Path | bytes, *, draft_size: int | None = None) -> Image.Image:
    """Decode `source` (a path or encoded bytes) to an RGB image with EXIF orientation applied.

    `draft_size` lets JPEG decode at a reduced scale whose short side stays >= draft_size.

    >>> load_image("photo.jpg", draft_size=224).mode
    'RGB'
    """
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with Image.open(fp) as image:
            width, height = image.size
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and width * height > limit:
                raise ImageTooLarge(
                    f"{name}: {width}x{height} = {width * height:,} pixels is over Pillow's decompression-bomb "
                    f"limit of {limit:,}; downscale the file first (the guard stays on to protect the server)."
                )
            if draft_size and image.format == "JPEG":
                image.draft("RGB", _draft_box(width, height, draft_size))
            image.load()
            image = ImageOps.exif_transpose(image)
            return to_rgb(image)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name}: {exc}. Downscale the file first.") from None
    except FileNotFoundError:
        raise UnreadableImage(f"{name}: no such file.") from None
    except _DECODE_ERRORS as exc:
        raise UnreadableImage(f"{name}: cannot decode image ({type(exc).__name__}: {exc}).") from None


def _draft_box(width: int, height: int, short_side: int) -> tuple[int, int]:
    scale = short_side / max(1, min(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: transparency over white, 16/32-bit and float scaled, palette expanded."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(1.0, float(values.max()))
        if mode == "F" and values.max() <= 1.0:
            top = 1.0
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resize_short_side(image: Image.Image, size: int) -> Image.Image:
    """Scale so the short side equals `size` (bilinear with a reducing gap: fast and alias-free)."""
    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    if new == (width, height):
        return image
    return image.resize(new, Image.Resampling.BILINEAR, reducing_gap=2.0)


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
