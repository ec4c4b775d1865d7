"""The one pixel policy: how many pixels a picture may have before it is refused, and what the refusal says.

Every stage that decodes a picture (the crawler's check of downloaded bytes, and dataset.imageio for
import, dedupe, export, training, prediction and the app) opens it through `open_image`, which reads
the header only and refuses a picture over the caller's limit before any pixel is decoded. Archive
masters of 100-300 megapixels are normal, so files the user chose get DEFAULT_MAX_PIXELS; the web app
passes the stricter UPLOAD_MAX_PIXELS for uploads from strangers.

Pillow's own check reads a process-wide global (Image.MAX_IMAGE_PIXELS) at open time, so a per-call
limit cannot be set there without racing other threads. It is switched off once, here, and this
module's explicit check, with the limit passed in, takes its place.
"""

from __future__ import annotations

from typing import IO

from PIL import Image

from db.errors import PipelineError

# Files the user chose (import, crawl, dedupe, export, predict): 600 dpi scans of large prints fit.
DEFAULT_MAX_PIXELS = 500_000_000
# Uploads to the web app: any camera's photograph fits; a 300 MP master does not tie up the server.
UPLOAD_MAX_PIXELS = 64_000_000

Image.MAX_IMAGE_PIXELS = None  # replaced by the explicit check in open_image (see the module docstring)


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


def open_image(fp: str | IO[bytes], max_pixels: int) -> Image.Image:
    """Image.open (header only) with the pixel check; raises TooManyPixels, or Pillow's own errors."""
    img = Image.open(fp)
    message = pixel_excess(img.width, img.height, max_pixels)
    if message is not None:
        img.close()
        raise TooManyPixels(message)
    return img
