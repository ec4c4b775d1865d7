"""Perceptual hashes (imagehash phash/dhash, 64 bits) of every stored image in its 8 orientations, kept.

Hashes work on 32x32 (phash) or 9x8 (dhash) greyscale thumbnails, so JPEGs are decoded in draft mode
at 1/2..1/8 scale: several times faster than a full decode, within a bit or two of the full-decode
hash. The decode is in colour, for trimming, and converted to greyscale (ITU-R 601 luma) for hashing. Uniform borders, card mounts and scanner-bed margins are trimmed first
(dataset/trim.py), so one print hashes alike on and off its mount. The upright hash is imagehash's,
bit for bit; the other 7 orientations (dataset/orientations.py) cost no decode and no resize for
phash, whose DCT only changes signs and transposes under a mirror or a quarter turn, and one more
9x8 thumbnail for dhash. Files are hashed in parallel worker processes; results are committed in
batches, so an interrupted run keeps what it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import scipy.fftpack
from PIL import Image as PILImage
from sqlalchemy import Engine, select

from dataset.imageio import RESAMPLE, UnreadableImage, load_image
from dataset.orientations import ORIENTATIONS, STEPS, apply, dct_signs
from dataset.trim import content_box, has_flat_edge
from dataset.workers import worker_pool
from db.models import Image, ImageHash, utcnow
from db.pixels import DEFAULT_MAX_PIXELS
from db.progress import progress as progress_bar
from db.session import session_scope

ALGORITHMS = ("phash", "dhash")
HASH_BITS = 64
HASH_SIDE = 8  # bits per side of the hash grid (imagehash's hash_size)
# Short side the JPEG is decoded at before the hash's own resize: 4x phash's 32 px keeps draft
# hashes within 2 bits of full-decode hashes (tests/test_hashing.py) at 1/4..1/8 decode scale.
DECODE_SIDE = 128
# Short side of the copy borders are looked for on, whatever the decode scale (draft or full): a
# pixel there is a quarter of a pixel of the 32x32 phash thumbnail.
TRIM_SIDE = 128
COMMIT_EVERY = 500


@dataclass(frozen=True)
class HashSummary:
    hashed: int  # images hashed in this run
    failed: int  # images that could not be decoded (rows with status "failed")
    reused: int  # images whose hashes were already stored


@dataclass(frozen=True)
class PictureHashes:
    hashes: dict[str, tuple[str, ...]]  # algorithm -> 16-hex hashes, one per ORIENTATIONS entry, "none" first
    trim: str | None  # margins trimmed before hashing, "left,top,right,bottom" as shares of the side; None if none


def hash_picture(path: str | Path, algorithms: Iterable[str] = ("phash",), draft: bool = True,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> PictureHashes:
    """Hashes of one file's trimmed picture in all 8 orientations; raises UnreadableImage."""
    # Decoded once in colour (a JPEG draft decode costs ~10% more than greyscale), which trimming may need.
    colour = load_image(path, mode="RGB", min_side=DECODE_SIDE if draft else None, max_pixels=max_pixels)
    img, trim = trim_picture(colour.convert("L"), lambda: colour)
    hashes = {}
    for name in algorithms:
        if name == "phash":
            hashes[name] = _phashes(img)
        elif name == "dhash":
            hashes[name] = _dhashes(img)
        else:
            raise ValueError(f"unknown hash {name!r}: expected one of {', '.join(ALGORITHMS)}")
    return PictureHashes(hashes, trim)


def hash_file(path: str | Path, algorithms: Iterable[str] = ("phash",), draft: bool = True,
              max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, str]:
    """Hex hashes of one file's trimmed, upright picture, one per algorithm; raises UnreadableImage.

    >>> hash_file("tests/data/images/sepia_1885.png", ["phash", "dhash"])
    {'phash': 'c9c8343796ca1f35', 'dhash': 'b8b3f3e3664a5874'}
    """
    return {name: variants[0] for name, variants in hash_picture(path, algorithms, draft, max_pixels).hashes.items()}


def trim_picture(
    img: PILImage.Image, load_colour: Callable[[], PILImage.Image]
) -> tuple[PILImage.Image, str | None]:
    """The greyscale picture `img` inside its borders, and what was cut ("left,top,right,bottom" shares).

    Borders are looked for on a copy whose short side is TRIM_SIDE, whatever the decode scale (so
    draft and full decodes trim alike), and in colour: a beige card and a pale sky can be one grey.
    Most photographs have no flat outer line, seen already in grey, and are not decoded again:
    `load_colour` gives the same picture in RGB only when needed.
    """
    scale = min(1.0, TRIM_SIDE / min(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    if not has_flat_edge(np.asarray(img.resize(size, PILImage.Resampling.BOX), dtype=np.float32)):
        return img, None
    colour = load_colour()
    left, top, right, bottom = content_box(np.asarray(colour.resize(size, PILImage.Resampling.BOX), dtype=np.float32))
    width, height = size
    if (left, top, right, bottom) == (0, 0, width, height):
        return img, None
    shares = (left / width, top / height, (width - right) / width, (height - bottom) / height)
    box = (round(shares[0] * img.width), round(shares[1] * img.height),
           img.width - round(shares[2] * img.width), img.height - round(shares[3] * img.height))
    return img.crop(box), ",".join(f"{share:.3f}" for share in shares)


def _bits_hex(bits: np.ndarray) -> str:
    """imagehash's hex form: the bits row by row, first bit most significant."""
    return f"{int.from_bytes(np.packbits(bits.ravel()).tobytes(), 'big'):016x}"


def low_frequencies(img: PILImage.Image) -> np.ndarray:
    """The 8x8 lowest frequencies of the DCT of the 32x32 greyscale thumbnail (imagehash.phash's input)."""
    pixels = np.asarray(img.resize((HASH_SIDE * 4, HASH_SIDE * 4), RESAMPLE))
    return scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:HASH_SIDE, :HASH_SIDE]


def phash_orientations(low: np.ndarray) -> np.ndarray:
    """uint64 phashes (ORIENTATIONS, n) of n low-frequency blocks (n, 8, 8): each bit is a coefficient above the median."""
    out = np.empty((len(ORIENTATIONS), len(low)), dtype=np.uint64)
    for k, name in enumerate(ORIENTATIONS):
        transpose, signs = dct_signs(name, HASH_SIDE)
        block = (low.transpose(0, 2, 1) if transpose else low) * signs
        flat = block.reshape(len(low), -1)
        bits = flat > np.median(flat, axis=1, keepdims=True)
        out[k] = np.packbits(bits, axis=1).view(">u8")[:, 0]
    return out


def _phashes(img: PILImage.Image) -> tuple[str, ...]:
    """imagehash.phash of the picture in each orientation, from one DCT of the 32x32 thumbnail."""
    return tuple(f"{int(value):016x}" for value in phash_orientations(low_frequencies(img)[None])[:, 0])


def _dhashes(img: PILImage.Image) -> tuple[str, ...]:
    """imagehash.dhash of the picture in each orientation: quarter turns need the 8x9 thumbnail."""
    wide = np.asarray(img.resize((HASH_SIDE + 1, HASH_SIDE), RESAMPLE)).astype(np.int16)
    tall = np.asarray(img.resize((HASH_SIDE, HASH_SIDE + 1), RESAMPLE)).astype(np.int16)
    out = []
    for name in ORIENTATIONS:
        turned = apply(name, tall if STEPS[name][0] else wide)
        out.append(_bits_hex(turned[:, 1:] > turned[:, :-1]))
    return tuple(out)


def hex_to_int(hash_hex: str) -> int:
    return int(hash_hex, 16)


def hashes_to_array(hexes: list[str]) -> np.ndarray:
    """64-bit hex strings -> uint64 array (the input of dataset.nearest)."""
    return np.array([int(h, 16) for h in hexes], dtype=np.uint64)


def _hash_job(job: tuple[int, str, tuple[str, ...]], max_pixels: int) -> tuple[int, PictureHashes | None, str | None]:
    key, path, algorithms = job
    try:
        return key, hash_picture(path, algorithms, max_pixels=max_pixels), None
    except UnreadableImage as exc:
        return key, None, str(exc)


def hash_paths(
    jobs: list[tuple[int, str, tuple[str, ...]]], workers: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[tuple[int, PictureHashes | None, str | None]]:
    """(key, hashes or None, error or None) for each (key, path, algorithms) job, in order; `workers` processes."""
    job = partial(_hash_job, max_pixels=max_pixels)
    if workers <= 1 or len(jobs) < 2 * workers:
        yield from map(job, jobs)
        return
    with worker_pool(workers) as pool:
        yield from pool.map(job, jobs, chunksize=max(1, min(64, len(jobs) // (workers * 8))))


def compute_missing_hashes(
    engine: Engine, algorithms: tuple[str, ...], workers: int = 1, progress: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> HashSummary:
    """Hash every ok image that lacks a hash by `algorithms` (or whose file changed since); store the results.

    Hashes stored before trimming and orientations existed (no variants) are computed again.
    """
    with session_scope(engine) as session:
        images = session.execute(
            select(Image.id, Image.path, Image.sha256).where(Image.status == "ok", Image.path.is_not(None))
        ).all()
        stored = {
            (row.image_id, row.algorithm): row
            for row in session.scalars(select(ImageHash).where(ImageHash.algorithm.in_(algorithms)))
        }
    jobs, reused = [], 0
    for image_id, path, sha in images:
        todo = tuple(
            a for a in algorithms
            if (row := stored.get((image_id, a))) is None or row.status != "ok" or row.image_sha256 != sha
            or row.variants is None
        )
        if todo:
            jobs.append((image_id, path, todo))
        else:
            reused += 1
    sha_of = {image_id: sha for image_id, _, sha in images}
    todo_of = {image_id: todo for image_id, _, todo in jobs}
    hashed = failed = 0
    pending: list[tuple[int, PictureHashes | None, str | None]] = []
    bar = progress_bar(total=len(jobs), desc="hashing", unit="img", enabled=progress and bool(jobs))
    for result in hash_paths(jobs, workers, max_pixels):
        pending.append(result)
        bar.update(1)
        if len(pending) >= COMMIT_EVERY:
            _store(engine, pending, todo_of, sha_of)
            pending = []
        if result[1] is None:
            failed += 1
        else:
            hashed += 1
    bar.close()
    _store(engine, pending, todo_of, sha_of)
    return HashSummary(hashed=hashed, failed=failed, reused=reused)


def _store(engine: Engine, results: list, todo_of: dict[int, tuple[str, ...]], sha_of: dict[int, str]) -> None:
    if not results:
        return
    with session_scope(engine) as session:
        ids = [image_id for image_id, _, _ in results]
        existing = {
            (row.image_id, row.algorithm): row
            for row in session.scalars(select(ImageHash).where(ImageHash.image_id.in_(ids)))
        }
        for image_id, picture, error in results:
            for algorithm in todo_of[image_id]:
                row = existing.get((image_id, algorithm))
                if row is None:
                    row = ImageHash(image_id=image_id, algorithm=algorithm)
                    session.add(row)
                hashes = picture.hashes[algorithm] if picture else None
                row.hash_hex = hashes[0] if hashes else None
                row.variants = " ".join(hashes[1:]) if hashes else None
                row.trim = picture.trim if picture else None
                row.status = "ok" if picture else "failed"
                row.error = error
                row.image_sha256 = sha_of[image_id]
                row.computed_at = utcnow()
