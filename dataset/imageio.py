"""The one way a file becomes pixels, for every stage: import, dedupe, export, training, prediction, the app.

Decode once, at the size the job needs, upright, in an explicit mode. JPEGs are decoded at reduced
scale with Pillow's draft mode (the DCT does the downscaling for free); EXIF orientation is applied;
modes are converted explicitly (alpha flattened onto white, 16-bit and float greyscale scaled to 8 bits,
rounded). Resizing has one resampling filter. Every failure is an `UnreadableImage` with the reason;
an image over the pixel limit (db.pixels: DEFAULT_MAX_PIXELS unless the caller passes another) is an
`ImageTooLarge` (a kind of UnreadableImage), refused from its header before any pixel is decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from db.errors import PipelineError
from db.pixels import DEFAULT_MAX_PIXELS, TooManyPixels, open_image

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
# Extensions of the formats above: what `cli.py predict` picks up from a folder.
READABLE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".dib", ".gif", ".ppm",
    ".pgm", ".pbm", ".pnm", ".pcx", ".tga",
})
# One resampling filter for every resize, so an exported copy and an original shrink alike.
RESAMPLE = Image.Resampling.LANCZOS
_GREY_DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class UnreadableImage(PipelineError):
    """The file is missing, truncated, not an image, or in a format this toolkit does not read."""


class ImageTooLarge(UnreadableImage):
    """The image has more pixels than the caller's limit (db.pixels); refused before decoding."""


@dataclass(frozen=True)
class ImageInfo:
    width: int  # pixels, as stored (before EXIF orientation)
    height: int  # pixels, as stored
    format: str  # PIL format name: JPEG, PNG, TIFF, ...


def probe(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Size and format of a file, decoding it once so truncated files are caught here.

    A JPEG is decoded at 1/8 scale: every scan is still read, so truncation is caught at a 64th of the memory.
    """
    with _open(path, max_pixels) as img:
        info = ImageInfo(img.width, img.height, img.format or "unknown")
        if info.format not in SUPPORTED_FORMATS:
            raise UnreadableImage(f"unsupported format {info.format} (supported: {', '.join(sorted(SUPPORTED_FORMATS))})")
        if info.format in ("JPEG", "MPO"):
            img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
        _load(img)
    return info


def load_image(source: str | Path | bytes, mode: str = "RGB", min_side: int | None = None,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The upright image in `mode` ("RGB" or "L") from a path or encoded bytes.

    JPEGs are decoded at the smallest DCT scale (1/2, 1/4, 1/8) whose short side stays >= min_side.
    Over `max_pixels` (counted as stored, before any reduction) it raises ImageTooLarge.

    >>> load_image("photo.jpg", mode="L", min_side=64)  # doctest: +SKIP
    """
    with _open(source, max_pixels) as img:
        if min_side and img.format in ("JPEG", "MPO"):
            img.draft(mode, (min_side, min_side))
        _load(img)
        upright = ImageOps.exif_transpose(img)
        return to_mode(upright, mode)


def to_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert explicitly: alpha onto white; 16-bit, 32-bit and float greyscale scaled to 8 bits and rounded.

    16-bit images scale from 65535; float images whose values stay within [0, 1] from 1; other deep
    images from 255, or from 65535 when a value exceeds 255. Never stretched per image: tone is a cue.
    """
    if img.mode == mode:
        return img
    if img.mode in _GREY_DEEP_MODES:
        pixels = np.asarray(img, dtype=np.float64)
        peak = float(pixels.max(initial=0.0))
        if img.mode.startswith("I;16") or peak > 255:
            top = 65535.0
        elif img.mode == "F" and peak <= 1.0:
            top = 1.0
        else:
            top = 255.0
        img = Image.fromarray(np.clip(pixels * (255.0 / top) + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert(mode)


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    """Resize so the short side is `size` pixels, aspect kept (Lanczos after a box reduction)."""
    width, height = img.size
    scale = size / min(width, height)
    target = (max(size, round(width * scale)), max(size, round(height * scale)))
    return img if target == img.size else img.resize(target, RESAMPLE, reducing_gap=2.0)


def _open(source: str | Path | bytes, max_pixels: int) -> Image.Image:
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return open_image(fp, max_pixels)
    except TooManyPixels as exc:
        raise ImageTooLarge(str(exc)) from None
    except FileNotFoundError:
        raise UnreadableImage(f"file not found: {source}") from None
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Pillow can identify") from None
    except OSError as exc:
        raise UnreadableImage(f"cannot open: {exc}") from None


def _load(img: Image.Image) -> None:
    # ImageFile.LOAD_TRUNCATED_IMAGES stays False: a truncated file fails here, not as grey bands.
    try:
        img.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnreadableImage(f"cannot decode: {exc}") from None
