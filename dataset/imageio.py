"""Decode an image once, at the size the job needs, upright, in an explicit mode.

JPEGs are decoded at reduced scale with Pillow's draft mode (the DCT does the downscaling for free);
EXIF orientation is applied; modes are converted explicitly (alpha flattened onto white, 16-bit
greyscale scaled rather than clipped). Every failure is an `UnreadableImage` with the reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from db.errors import PipelineError

# Formats `cli.py import` accepts (PIL format names) and the file extension each is stored under.
SUPPORTED_FORMATS = {
    "JPEG": "jpg", "MPO": "jpg", "PNG": "png", "TIFF": "tif", "WEBP": "webp", "BMP": "bmp",
    "GIF": "gif", "PPM": "ppm", "PCX": "pcx", "TGA": "tga", "DIB": "bmp",
}
# Extensions that name pictures, so a file with one that Pillow cannot open is a corrupt image, not a stray file.
IMAGE_EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".dib", ".gif", ".ppm",
    ".pgm", ".pbm", ".pnm", ".pcx", ".tga", ".heic", ".heif", ".avif", ".jp2", ".jxl", ".cr2", ".nef",
    ".dng", ".arw", ".orf", ".raf", ".psd", ".svg", ".ico",
}
RESAMPLE = Image.Resampling.LANCZOS


class UnreadableImage(PipelineError):
    """The file is missing, truncated, not an image, or in a format this toolkit does not read."""


@dataclass(frozen=True)
class ImageInfo:
    width: int  # pixels, as stored (before EXIF orientation)
    height: int  # pixels, as stored
    format: str  # PIL format name: JPEG, PNG, TIFF, ...


def probe(path: str | Path) -> ImageInfo:
    """Size and format of a file, decoding every pixel once so truncated files are caught here."""
    with _open(path) as img:
        info = ImageInfo(img.width, img.height, img.format or "unknown")
        if info.format not in SUPPORTED_FORMATS:
            raise UnreadableImage(f"unsupported format {info.format} (supported: {', '.join(sorted(SUPPORTED_FORMATS))})")
        _load(img, path)
    return info


def load_image(path: str | Path, mode: str = "RGB", min_side: int | None = None) -> Image.Image:
    """The upright image in `mode` ("RGB" or "L"); JPEGs decoded at the smallest scale whose short side >= min_side.

    >>> load_image("photo.jpg", mode="L", min_side=64)  # doctest: +SKIP
    """
    with _open(path) as img:
        if min_side and img.format in ("JPEG", "MPO"):
            # draft() picks the largest DCT scale (1/2, 1/4, 1/8) keeping both sides >= the request.
            img.draft(mode, (min_side, min_side))
        _load(img, path)
        upright = ImageOps.exif_transpose(img)
        return to_mode(upright, mode)


def to_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert explicitly: alpha onto white, 16-bit and float greyscale scaled to 8 bits."""
    if img.mode == mode:
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        pixels = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or pixels.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(pixels * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert(mode)


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    """Resize so the short side is `size` pixels, aspect kept (Lanczos)."""
    width, height = img.size
    scale = size / min(width, height)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return img if target == img.size else img.resize(target, RESAMPLE, reducing_gap=3.0)


def _open(path: str | Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except FileNotFoundError:
        raise UnreadableImage(f"file not found: {path}") from None
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Pillow can identify") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"too many pixels ({exc})") from None
    except OSError as exc:
        raise UnreadableImage(f"cannot open: {exc}") from None


def _load(img: Image.Image, path: str | Path) -> None:
    # ImageFile.LOAD_TRUNCATED_IMAGES stays False: a truncated file fails here, not as grey bands.
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"cannot decode: {exc}") from None
