"""The one pixel policy: how many pixels a picture may have before it is refused, and what the refusal says.

Every stage that decodes a picture (the crawler's check of downloaded bytes, and dataset.imageio for
import, dedupe, export, training, prediction and the app) opens it through `open_image`, which reads
the header only and refuses a picture over the caller's limit before any pixel is decoded. Archive
masters of 100-300 megapixels are normal, so files the user chose get DEFAULT_MAX_PIXELS; the web app
passes the stricter UPLOAD_MAX_PIXELS for uploads from strangers.

A file that starts like a JPEG but holds junk after its first marker is refused once JPEG_JUNK_LIMIT
bytes of junk are seen: Pillow would otherwise scan it one byte at a time to its end (26 s for 200 MB).

Pillow's own check reads a process-wide global (Image.MAX_IMAGE_PIXELS) at open time, so a per-call
limit cannot be set there without racing other threads. It is switched off once, here, and this
module's explicit check, with the limit passed in, takes its place.
"""

from __future__ import annotations

import os
from typing import IO

from PIL import Image, UnidentifiedImageError

from db.errors import PipelineError

# Files the user chose (import, crawl, dedupe, export, predict): 600 dpi scans of large prints fit.
DEFAULT_MAX_PIXELS = 500_000_000
# Uploads to the web app: any camera's photograph fits; a 300 MP master does not tie up the server.
UPLOAD_MAX_PIXELS = 64_000_000

Image.MAX_IMAGE_PIXELS = None  # replaced by the explicit check in open_image (see the module docstring)
# Bytes between a JPEG's segments that are not markers, before the file is taken for junk. Real files
# have none, or a little padding from a careless writer.
JPEG_JUNK_LIMIT = 64 * 1024
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length
_JPEG_FRAME_OR_SCAN = {*range(0xC0, 0xD0), 0xDA} - {0xC4, 0xC8, 0xCC}  # SOFn and SOS: the header is over


class TooManyPixels(PipelineError):
    """The picture has more pixels than the limit; refused before decoding."""


def pixel_excess(width: int, height: int, max_pixels: int) -> str | None:
    """The refusal message when width x height is over `max_pixels`, else None.

    >>> pixel_excess(20000, 20000, 300_000_000)
    '20000x20000 = 400,000,000 pixels is over the limit of 300,000,000; downscale the file first, or raise --max-pixels'
    """
    pixels = width * height
    if pixels <= max_pixels:
        return None
    return (f"{width}x{height} = {pixels:,} pixels is over the limit of {max_pixels:,}; downscale the file first, "
            "or raise --max-pixels")


def _check_jpeg_markers(fp: IO[bytes]) -> None:
    """Walk a JPEG's segments up to its frame header; UnidentifiedImageError when junk fills the gaps."""
    start = fp.tell()
    try:
        if fp.read(2) != b"\xff\xd8":
            return
        junk = 0
        while True:
            byte = fp.read(1)
            if not byte:
                return  # cut short: Pillow says so
            if byte != b"\xff":
                junk += 1
                if junk > JPEG_JUNK_LIMIT:
                    raise UnidentifiedImageError(
                        f"starts like a JPEG but holds over {JPEG_JUNK_LIMIT // 1024} KB that are not JPEG segments "
                        "before any image header: not a picture")
                continue
            marker = fp.read(1)
            while marker == b"\xff":  # fill bytes
                marker = fp.read(1)
            if not marker or marker[0] in _JPEG_FRAME_OR_SCAN:
                return
            if marker[0] in _JPEG_STANDALONE or marker[0] == 0x00:
                continue
            length = int.from_bytes(fp.read(2), "big")
            if length < 2:
                return  # malformed: Pillow's own error is clearer
            fp.seek(length - 2, 1)
    finally:
        fp.seek(start)


def open_image(fp: str | os.PathLike | IO[bytes], max_pixels: int) -> Image.Image:
    """Image.open (header only) with the pixel check; raises TooManyPixels, or Pillow's own errors."""
    if isinstance(fp, str | os.PathLike):
        with open(fp, "rb") as handle:
            _check_jpeg_markers(handle)
    elif fp.seekable():
        _check_jpeg_markers(fp)
    img = Image.open(fp)
    message = pixel_excess(img.width, img.height, max_pixels)
    if message is not None:
        img.close()
        raise TooManyPixels(message)
    return img
