"""Checking downloaded image bytes and storing them content-addressed, atomically.

The bytes are kept exactly as served (no re-encoding): the file's name is the sha256 of its
content, so a rerun writing the same image is a no-op and two records sharing a photograph
share a file. A file appears under its final name only when complete (temp file + rename),
so a crawl killed mid-write leaves at most a stray ``.part`` file, which the next run removes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import UnidentifiedImageError

from db.pixels import DEFAULT_MAX_PIXELS, TooManyPixels, open_image

EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp"}
_MARKUP_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/json", "text/xml")
_PARTIAL_SUFFIX = ".part"


class ImageRejected(Exception):
    """The bytes are not a complete, decodable image; `reason` is the summary's code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's format name (JPEG, PNG, ...)
    width: int  # pixels, as stored (before any EXIF rotation)
    height: int


def inspect_image(body: bytes, content_type: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Format and size of `body`, decoding it (at reduced scale for JPEG) to prove it is whole.

    Raises ImageRejected("image_not_an_image" | "image_truncated" | "image_unreadable" |
    "image_too_many_pixels", detail); the last before any pixel is decoded (db.pixels).
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in _MARKUP_TYPES or body.lstrip()[:1] == b"<":
        raise ImageRejected(
            "image_not_an_image",
            f"served {media_type or 'no content type'} ({len(body)} bytes), not an image",
        )
    try:
        image = open_image(BytesIO(body), max_pixels)
    except TooManyPixels as exc:
        raise ImageRejected("image_too_many_pixels", str(exc)) from None
    except UnidentifiedImageError:
        raise ImageRejected(
            "image_not_an_image",
            f"{len(body)} bytes ({media_type or 'no content type'}) that no image decoder recognises",
        ) from None
    with image:
        fmt, (width, height) = image.format or "unknown", image.size
        if fmt == "JPEG" and not body.rstrip(b"\x00\r\n ")[-2:] == b"\xff\xd9":
            raise ImageRejected("image_truncated", f"JPEG of {len(body)} bytes has no end-of-image marker")
        if fmt == "JPEG":
            # Every scan is still read in full, so truncation is caught at an eighth of the work.
            image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        try:
            image.load()
        except (OSError, SyntaxError, EOFError, ValueError) as exc:
            reason = "image_truncated" if "truncat" in str(exc).lower() else "image_unreadable"
            raise ImageRejected(reason, f"{fmt} of {len(body)} bytes fails to decode: {exc}") from None
    return ImageInfo(format=fmt, width=width, height=height)


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def stored_path(images_dir: Path, sha256: str, fmt: str) -> Path:
    """`<images_dir>/<sha[:2]>/<sha>.<ext>`."""
    return images_dir / sha256[:2] / f"{sha256}.{EXTENSIONS.get(fmt, fmt.lower())}"


def store_bytes(images_dir: Path, body: bytes, sha256: str, fmt: str) -> Path:
    """Write `body` under its content address (if not already there) and return the absolute path."""
    final = stored_path(images_dir, sha256, fmt).absolute()
    if final.is_file() and final.stat().st_size == len(body):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}{_PARTIAL_SUFFIX}")
    try:
        with open(partial, "wb") as handle:
            handle.write(body)
        os.replace(partial, final)
    except OSError:
        partial.unlink(missing_ok=True)  # a full disk leaves no half file behind
        raise
    return final


def remove_partial_files(images_dir: Path) -> int:
    """Delete temp files a killed crawl left behind; returns how many.

    A temp file names the process writing it; one of a process still running (another crawl or an
    import sharing the images folder) is in flight and stays.
    """
    removed = 0
    if not images_dir.is_dir():
        return 0
    for partial in images_dir.glob(f"*/.*{_PARTIAL_SUFFIX}"):
        if _writer_alive(partial):
            continue
        partial.unlink(missing_ok=True)
        removed += 1
    return removed


def _writer_alive(partial: Path) -> bool:
    # ".<sha>.<ext>.<pid>.<thread>.part": the pid is the third field from the end.
    try:
        pid = int(partial.name.split(".")[-3])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a live process of another user
    return True
