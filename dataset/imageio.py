"""The one way a file becomes pixels, for every stage: import, dedupe, export, training, prediction, the app.

Decode once, at the size the job needs, upright, in an explicit mode. JPEGs are decoded at reduced
scale with Pillow's draft mode (the DCT does the downscaling for free); uncompressed files stored as
raw rows (TIFF masters, PPM) are read and box-reduced a band at a time, so a 300-megapixel scan never
sits whole in memory; other formats (PNG, compressed TIFF) decode whole. EXIF orientation is applied;
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
# Pillow loads its common decoders (JPEG, PNG, ...) on the first open; here they load with this module,
# at start-up, not inside the first hashing batch of every process.
Image.preinit()
# One resampling filter for every resize, so an exported copy and an original shrink alike.
RESAMPLE = Image.Resampling.LANCZOS
_GREY_DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
# Raw row layouts read band by band (bytes per pixel), and how many decoded bytes one band may hold.
_RAW_BYTES_PER_PIXEL = {"L": 1, "RGB": 3, "RGBA": 4, "RGBX": 4}
BAND_BYTES = 32 * 1024 * 1024
# Modes Image.reduce handles (a palette image is converted first, at full size).
_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "I", "F")


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
        strips = _raw_strips(img)
        if strips is None:
            _load(img)
        else:  # every row is where the header says: the file's length proves it whole
            _check_raw_length(path, img.width, strips)
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
        factor = min(img.size) // min_side if min_side else 1
        strips = _raw_strips(img) if factor >= 2 else None
        if strips is not None:
            img = _keep_orientation(_reduce_raw(source, img, factor, strips), img)
        else:
            _load(img)
            if factor >= 2 and img.format not in ("JPEG", "MPO") and img.mode in _REDUCIBLE_MODES:
                # Shrink at once, so the full-size copy is freed before orientation and mode copies are made.
                img = _keep_orientation(img.reduce(factor), img)
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


def _keep_orientation(reduced: Image.Image, original: Image.Image) -> Image.Image:
    """`reduced` carrying `original`'s EXIF, so exif_transpose still turns it upright."""
    reduced.info["exif"] = original.getexif().tobytes()
    return reduced


def _raw_strips(img: Image.Image) -> list[tuple[int, int, int, str]] | None:
    """(top, bottom, offset, rawmode) of each full-width strip of raw rows, or None when not stored so."""
    strips = []
    for tile in img.tile:
        name, (x0, top, x1, bottom), offset, args = tile
        rawmode, stride, orientation = (args + (0, 1))[:3] if isinstance(args, tuple) else (args, 0, 1)
        if (name != "raw" or (x0, x1) != (0, img.width) or rawmode not in _RAW_BYTES_PER_PIXEL
                or img.mode not in ("L", "RGB", "RGBA") or stride not in (0, img.width * _RAW_BYTES_PER_PIXEL[rawmode])
                or orientation != 1):
            return None
        strips.append((top, bottom, offset, rawmode))
    return sorted(strips) or None


def _check_raw_length(source: str | Path | bytes, width: int, strips: list[tuple[int, int, int, str]]) -> None:
    size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    needed = max(offset + (bottom - top) * width * _RAW_BYTES_PER_PIXEL[raw] for top, bottom, offset, raw in strips)
    if size < needed:
        raise UnreadableImage(f"cannot decode: truncated file ({size:,} of {needed:,} bytes)")


def _reduce_raw(source: str | Path | bytes, img: Image.Image, factor: int,
                strips: list[tuple[int, int, int, str]]) -> Image.Image:
    """Image.reduce(factor) of a raw-row image, reading BAND_BYTES of rows at a time (identical pixels)."""
    width, height = img.size
    row_bytes = width * max(_RAW_BYTES_PER_PIXEL[raw] for *_, raw in strips)
    rows = max(factor, BAND_BYTES // row_bytes // factor * factor)  # a multiple of factor: blocks never split
    out = Image.new(img.mode, (-(-width // factor), -(-height // factor)))
    with (io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")) as fp:
        for first in range(0, height, rows):
            last = min(height, first + rows)
            band = Image.new(img.mode, (width, last - first))
            for top, bottom, offset, rawmode in strips:
                lo, hi = max(first, top), min(last, bottom)
                if lo >= hi:
                    continue
                step = width * _RAW_BYTES_PER_PIXEL[rawmode]
                fp.seek(offset + (lo - top) * step)
                data = fp.read((hi - lo) * step)
                if len(data) < (hi - lo) * step:
                    raise UnreadableImage(f"cannot decode: truncated file (rows {lo}-{hi} of {height} missing)")
                band.paste(Image.frombuffer(img.mode, (width, hi - lo), data, "raw", rawmode, 0, 1), (0, lo - first))
            out.paste(band.reduce(factor), (0, first // factor))
    return out
