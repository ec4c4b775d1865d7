"""Perceptual hashes (imagehash phash/dhash, 64 bits) of every stored image in its 8 orientations, kept.

Hashes work on 32x32 (phash) or 9x8 (dhash) greyscale thumbnails, so only those pixels are decoded:
a JPEG at the smallest DCT scale (1/2..1/8) whose short side is still >= 128, four times phash's input
(within a bit or two of the full-decode hash; trimming needs the margin, see DECODE_SIDE), other
formats reduced as they are read (dataset/imageio.py). The decode is in colour, for trimming, and converted to greyscale (ITU-R 601
luma) for hashing. Uniform borders, card mounts and scanner-bed margins are trimmed first, on that
reduced picture (dataset/trim.py), so one print hashes alike on and off its mount. The upright hash
is imagehash's of the trimmed picture, bit for bit; the other 7 orientations (dataset/orientations.py)
cost no decode and no resize for phash, whose DCT only changes signs and transposes under a mirror or
a quarter turn, and one more 9x8 thumbnail for dhash; `orientations=False` (dedupe --no-transforms)
skips them. `trim=False` (dedupe --no-trim) hashes the whole picture as the published phash does,
from a greyscale decode at the smallest scale that keeps phash's 32 px (PLAIN_SIDE; a JPEG's 1/8
scale from 256 px up): no colour, no border search, about the least any Pillow-based hasher decodes.
Each stored hash says which of the two it is (HASH_KINDS). Files are hashed in batches by worker
processes (this one among them) that take the next batch from one shared counter, largest files
first, the batches shrinking towards the end so every process finishes at about the same time
(hash_paths); the DCTs and medians of a batch run as one array operation; results are committed in
batches, so an interrupted run keeps what it did.
"""

from __future__ import annotations

import os
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
from dataset.workers import shared_chunks
from db.models import Image, ImageHash, utcnow
from db.pixels import DEFAULT_MAX_PIXELS
from db.progress import progress as progress_bar
from db.session import session_scope

ALGORITHMS = ("phash", "dhash")
HASH_BITS = 64
HASH_SIDE = 8  # bits per side of the hash grid (imagehash's hash_size)
PHASH_SIDE = HASH_SIDE * 4  # phash's thumbnail: 32x32 pixels, whose DCT keeps the 8x8 lowest frequencies
# Short side a file is decoded at, at least: 4x phash's 32 px. The hash alone would be content with
# 32 (a JPEG's 1/8-scale decode is its 8x8 block means, a box filter before the hash's own resize), but
# borders are found and cut on this picture, and a coarser one moves the cut: decoding at 64 found 94
# of the demo archive's 100 planted duplicates (benchmarks/dedupe_truth.py), with one false merge more,
# against 97 at 128; at 32 a mounted 240x180 print hashes 6 bits from its unmounted self
# (tests/test_hashing.py). Scans of 1024 px and more still decode at 1/8.
DECODE_SIDE = 4 * PHASH_SIDE
# Short side a file is decoded at for an untrimmed hash (dedupe --no-trim): phash's own input. A
# JPEG's 1/8-scale decode is its 8x8 block means, a box filter before the Lanczos resize to 32.
PLAIN_SIDE = PHASH_SIDE
# What a stored hash was computed from: "trimmed" (borders cut, the default) or "plain" (the whole picture).
HASH_KINDS = ("trimmed", "plain")
# Short side of the copy borders are looked for on, at most: a decode larger than this (a big scan at
# 1/8 scale) is box-reduced first, so big and small decodes trim alike and cheaply.
TRIM_SIDE = 128
# Files per worker task at most: the per-file overhead of a task and of one DCT is shared by a batch.
BATCH_FILES = 64
# A batch is this share of the files not yet taken, per worker (1/GUIDED_SHARES each): large while
# much is left, small at the end, so no process waits long for another's last batch.
GUIDED_SHARES = 4
MIN_BATCH_FILES = 2  # files per batch at least: the batch DCT still shares its overhead
COMMIT_EVERY = 500


@dataclass(frozen=True)
class HashSummary:
    hashed: int  # images hashed in this run
    failed: int  # images that could not be decoded (rows with status "failed")
    reused: int  # images whose hashes were already stored


@dataclass(frozen=True)
class PictureHashes:
    # algorithm -> 16-hex hashes, one per ORIENTATIONS entry, "none" first (only "none" when hashed upright only)
    hashes: dict[str, tuple[str, ...]]
    trim: str | None  # margins trimmed before hashing, "left,top,right,bottom" as shares of the side; None if none


def hash_picture(path: str | Path, algorithms: Iterable[str] = ("phash",), draft: bool = True,
                 max_pixels: int = DEFAULT_MAX_PIXELS, orientations: bool = True, trim: bool = True) -> PictureHashes:
    """Hashes of one file's trimmed picture in all 8 orientations (upright only without `orientations`;
    the whole picture without `trim`).

    Raises UnreadableImage.
    """
    result = hash_batch([(path, tuple(algorithms))], draft, max_pixels, orientations, trim)[0]
    if isinstance(result, UnreadableImage):
        raise result
    return result


def hash_file(path: str | Path, algorithms: Iterable[str] = ("phash",), draft: bool = True,
              max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, str]:
    """Hex hashes of one file's trimmed, upright picture, one per algorithm; raises UnreadableImage.

    >>> hash_file("tests/data/images/sepia_1885.png", ["phash", "dhash"])
    {'phash': 'c9c8343796ca1f35', 'dhash': 'b8b3f3e3664a5874'}
    """
    picture = hash_picture(path, algorithms, draft, max_pixels, orientations=False)
    return {name: variants[0] for name, variants in picture.hashes.items()}


def hash_batch(files: list[tuple[str | Path, tuple[str, ...]]], draft: bool = True,
               max_pixels: int = DEFAULT_MAX_PIXELS, orientations: bool = True,
               trim: bool = True) -> list[PictureHashes | UnreadableImage]:
    """PictureHashes, or the UnreadableImage that stopped it, for each (path, algorithms) in `files`, in order.

    Each file is decoded and trimmed (unless not `trim`) on its own; the phash DCTs and medians of the whole batch are one
    array operation each, so small scans do not pay numpy's per-call overhead 8 times each.
    """
    for _, algorithms in files:
        for name in algorithms:
            if name not in ALGORITHMS:
                raise ValueError(f"unknown hash {name!r}: expected one of {', '.join(ALGORITHMS)}")
    pictures: list[tuple[PILImage.Image, str | None] | UnreadableImage] = []
    for path, _ in files:
        try:
            if not trim:
                pictures.append((load_image(path, mode="L", min_side=PLAIN_SIDE if draft else None,
                                            max_pixels=max_pixels), None))
                continue
            colour = load_image(path, mode="RGB", min_side=DECODE_SIDE if draft else None, max_pixels=max_pixels)
        except UnreadableImage as exc:
            pictures.append(exc)
            continue
        pictures.append(trim_picture(colour.convert("L"), lambda colour=colour: colour))
    wanted = [k for k, (_, algorithms) in enumerate(files)
              if "phash" in algorithms and not isinstance(pictures[k], UnreadableImage)]
    phashes = {}
    if wanted:
        thumbnails = np.stack([np.asarray(pictures[k][0].resize((PHASH_SIDE, PHASH_SIDE), RESAMPLE)) for k in wanted])
        values = phash_orientations(_low_frequencies(thumbnails), orientations)
        phashes = {k: tuple(f"{value:016x}" for value in values[:, n].tolist()) for n, k in enumerate(wanted)}
    out: list[PictureHashes | UnreadableImage] = []
    for k, (_, algorithms) in enumerate(files):
        picture = pictures[k]
        if isinstance(picture, UnreadableImage):
            out.append(picture)
            continue
        img, trim = picture
        hashes = {name: phashes[k] if name == "phash" else _dhashes(img, orientations) for name in algorithms}
        out.append(PictureHashes(hashes, trim))
    return out


def trim_picture(
    img: PILImage.Image, load_colour: Callable[[], PILImage.Image]
) -> tuple[PILImage.Image, str | None]:
    """The greyscale picture `img` inside its borders, and what was cut ("left,top,right,bottom" shares).

    Borders are looked for on the picture as decoded, box-reduced to a short side of TRIM_SIDE when it
    is larger, and in colour: a beige card and a pale sky can be one grey. Most photographs have no flat
    outer line, seen already in grey, and are not looked at in colour: `load_colour` gives the same
    picture in RGB only when needed.
    """
    scale = min(1.0, TRIM_SIDE / min(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    if not has_flat_edge(np.asarray(_reduced(img, size), dtype=np.float32)):
        return img, None
    left, top, right, bottom = content_box(np.asarray(_reduced(load_colour(), size), dtype=np.float32))
    width, height = size
    if (left, top, right, bottom) == (0, 0, width, height):
        return img, None
    shares = (left / width, top / height, (width - right) / width, (height - bottom) / height)
    box = (round(shares[0] * img.width), round(shares[1] * img.height),
           img.width - round(shares[2] * img.width), img.height - round(shares[3] * img.height))
    return img.crop(box), ",".join(f"{share:.3f}" for share in shares)


def _reduced(img: PILImage.Image, size: tuple[int, int]) -> PILImage.Image:
    return img if img.size == size else img.resize(size, PILImage.Resampling.BOX)


def _bits_hex(bits: np.ndarray) -> str:
    """imagehash's hex form: the bits row by row, first bit most significant."""
    return f"{int.from_bytes(np.packbits(bits.ravel()).tobytes(), 'big'):016x}"


def low_frequencies(img: PILImage.Image) -> np.ndarray:
    """The 8x8 lowest frequencies of the DCT of the 32x32 greyscale thumbnail (imagehash.phash's input)."""
    return _low_frequencies(np.asarray(img.resize((PHASH_SIDE, PHASH_SIDE), RESAMPLE))[None])[0]


def _low_frequencies(thumbnails: np.ndarray) -> np.ndarray:
    """(n, 8, 8) lowest DCT frequencies of n (n, 32, 32) thumbnails: imagehash's 2-D DCT-II, row by row per picture."""
    return scipy.fftpack.dct(scipy.fftpack.dct(thumbnails, axis=1), axis=2)[:, :HASH_SIDE, :HASH_SIDE]


def phash_orientations(low: np.ndarray, orientations: bool = True) -> np.ndarray:
    """uint64 phashes (ORIENTATIONS, n) of n low-frequency blocks (n, 8, 8): each bit is a coefficient above the median.

    Without `orientations`, only the upright row (1, n).
    """
    names = ORIENTATIONS if orientations else ORIENTATIONS[:1]
    out = np.empty((len(names), len(low)), dtype=np.uint64)
    for k, name in enumerate(names):
        transpose, signs = dct_signs(name, HASH_SIDE)
        block = (low.transpose(0, 2, 1) if transpose else low) * signs
        flat = block.reshape(len(low), -1)
        bits = flat > np.median(flat, axis=1, keepdims=True)
        out[k] = np.packbits(bits, axis=1).view(">u8")[:, 0]
    return out


def _phashes(img: PILImage.Image) -> tuple[str, ...]:
    """imagehash.phash of the picture in each orientation, from one DCT of the 32x32 thumbnail."""
    return tuple(f"{int(value):016x}" for value in phash_orientations(low_frequencies(img)[None])[:, 0])


def _dhashes(img: PILImage.Image, orientations: bool = True) -> tuple[str, ...]:
    """imagehash.dhash of the picture in each orientation (upright only without `orientations`)."""
    wide = np.asarray(img.resize((HASH_SIDE + 1, HASH_SIDE), RESAMPLE)).astype(np.int16)
    if not orientations:
        return (_bits_hex(wide[:, 1:] > wide[:, :-1]),)
    tall = np.asarray(img.resize((HASH_SIDE, HASH_SIDE + 1), RESAMPLE)).astype(np.int16)  # quarter turns
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


def _hash_batch_job(
    jobs: list[tuple[int, str, tuple[str, ...]]], max_pixels: int, orientations: bool, trim: bool
) -> list[tuple[int, PictureHashes | None, str | None]]:
    results = hash_batch([(path, algorithms) for _, path, algorithms in jobs], max_pixels=max_pixels,
                         orientations=orientations, trim=trim)
    return [(key, None, str(result)) if isinstance(result, UnreadableImage) else (key, result, None)
            for (key, _, _), result in zip(jobs, results, strict=True)]


def hash_paths(
    jobs: list[tuple[int, str, tuple[str, ...]]], workers: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS,
    orientations: bool = True, trim: bool = True,
) -> Iterator[list[tuple[int, PictureHashes | None, str | None]]]:
    """Batches of (key, hashes or None, error or None) for the (key, path, algorithms) jobs, as they are done.

    `workers` processes, this one among them (dataset/workers.shared_chunks), take the next batch from a
    shared counter. The files go largest first and the batches shrink towards the end (chunk_sizes), so
    the last batches are small files in small batches and every process ends within a few milliseconds
    of the others.
    """
    work = partial(_hash_batch_job, max_pixels=max_pixels, orientations=orientations, trim=trim)
    if workers > 1:
        _warm_up()
    for _, batch in shared_chunks(work, plan_batches(jobs, workers), workers):
        yield batch


def plan_batches(jobs: list[tuple[int, str, tuple[str, ...]]], workers: int) -> list[list]:
    """The jobs in batches, largest file first, of chunk_sizes (with several workers; else in order)."""
    if workers > 1:
        jobs = sorted(jobs, key=lambda job: -_file_size(job[1]))
    batches, start = [], 0
    for size in chunk_sizes(len(jobs), workers):
        batches.append(jobs[start : start + size])
        start += size
    return batches


def chunk_sizes(count: int, workers: int) -> list[int]:
    """Batch sizes for `count` files: each a share of what is left (guided scheduling), BATCH_FILES at most.

    >>> chunk_sizes(40, 2)
    [5, 5, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2]
    """
    sizes, left = [], count
    while left:
        size = min(left, BATCH_FILES, max(MIN_BATCH_FILES, -(-left // (GUIDED_SHARES * max(1, workers)))))
        sizes.append(size)
        left -= size
    return sizes


def _warm_up() -> None:
    """What a first hash does once per process (the DCT's plan), done before forking: the forks inherit it."""
    _low_frequencies(np.zeros((1, PHASH_SIDE, PHASH_SIDE)))


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # a missing file fails in its batch, with its reason


def compute_missing_hashes(
    engine: Engine, algorithms: tuple[str, ...], workers: int = 1, progress: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS, orientations: bool = True, trim: bool = True,
) -> HashSummary:
    """Hash every ok image that lacks a hash by `algorithms` (or whose file changed since); store the results.

    Hashes stored before trimming and orientations existed (variants None) are computed again, and so
    are hashes stored upright only (variants "", by `orientations=False`) when `orientations` is on,
    and hashes of the other kind (trimmed or plain, HASH_KINDS) than `trim` asks for.
    """
    kind = HASH_KINDS[0] if trim else HASH_KINDS[1]
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
            or row.variants is None or (orientations and not row.variants) or (row.kind or HASH_KINDS[0]) != kind
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
    for batch in hash_paths(jobs, workers, max_pixels, orientations, trim):
        pending.extend(batch)
        bar.update(len(batch))
        if len(pending) >= COMMIT_EVERY:
            _store(engine, pending, todo_of, sha_of, kind)
            pending = []
        failed += sum(1 for _, picture, _ in batch if picture is None)
        hashed += sum(1 for _, picture, _ in batch if picture is not None)
    bar.close()
    _store(engine, pending, todo_of, sha_of, kind)
    return HashSummary(hashed=hashed, failed=failed, reused=reused)


def _store(engine: Engine, results: list, todo_of: dict[int, tuple[str, ...]], sha_of: dict[int, str],
           kind: str) -> None:
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
                row.kind = kind
                row.status = "ok" if picture else "failed"
                row.error = error
                row.image_sha256 = sha_of[image_id]
                row.computed_at = utcnow()
