"""Perceptual hashes (imagehash phash/dhash, 64 bits) of every stored image, computed once and kept.

Hashes work on 32x32 (phash) or 9x8 (dhash) greyscale thumbnails, so JPEGs are decoded in draft mode
at 1/2..1/8 scale straight to greyscale: several times faster than a full decode, within a bit or two
of the full-decode hash. Files are hashed in parallel worker processes; results are committed in
batches, so an interrupted run keeps what it did.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import imagehash
import numpy as np
from sqlalchemy import Engine, select
from tqdm import tqdm

from dataset.imageio import UnreadableImage, load_image
from dataset.workers import worker_pool
from db.models import Image, ImageHash, utcnow
from db.pixels import DEFAULT_MAX_PIXELS
from db.session import session_scope

ALGORITHMS = {"phash": imagehash.phash, "dhash": imagehash.dhash}
HASH_BITS = 64
# Short side the JPEG is decoded at before the hash's own resize: 4x phash's 32 px keeps draft
# hashes within 2 bits of full-decode hashes (tests/test_hashing.py) at 1/4..1/8 decode scale.
DECODE_SIDE = 128
COMMIT_EVERY = 500


@dataclass(frozen=True)
class HashSummary:
    hashed: int  # images hashed in this run
    failed: int  # images that could not be decoded (rows with status "failed")
    reused: int  # images whose hashes were already stored


def hash_file(path: str | Path, algorithms: Iterable[str] = ("phash",), draft: bool = True,
              max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, str]:
    """Hex hashes of one file, one per algorithm; raises UnreadableImage.

    >>> hash_file("tests/data/images/sepia_1885.png", ["phash", "dhash"])
    {'phash': 'cdc9323286cdc17e', 'dhash': '39b3f2e26569717d'}
    """
    img = load_image(path, mode="L", min_side=DECODE_SIDE if draft else None, max_pixels=max_pixels)
    return {name: str(ALGORITHMS[name](img)) for name in algorithms}


def hex_to_int(hash_hex: str) -> int:
    return int(hash_hex, 16)


def hashes_to_array(hexes: list[str]) -> np.ndarray:
    """64-bit hex strings -> uint64 array (the input of dataset.nearest)."""
    return np.array([int(h, 16) for h in hexes], dtype=np.uint64)


def _hash_job(job: tuple[int, str, tuple[str, ...]], max_pixels: int) -> tuple[int, dict[str, str] | None, str | None]:
    key, path, algorithms = job
    try:
        return key, hash_file(path, algorithms, max_pixels=max_pixels), None
    except UnreadableImage as exc:
        return key, None, str(exc)


def hash_paths(
    jobs: list[tuple[int, str, tuple[str, ...]]], workers: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
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
    """Hash every ok image that lacks a hash by `algorithms` (or whose file changed since); store the results."""
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
        )
        if todo:
            jobs.append((image_id, path, todo))
        else:
            reused += 1
    sha_of = {image_id: sha for image_id, _, sha in images}
    todo_of = {image_id: todo for image_id, _, todo in jobs}
    hashed = failed = 0
    pending: list[tuple[int, dict[str, str] | None, str | None]] = []
    bar = tqdm(total=len(jobs), desc="hashing", unit="img", disable=not progress or not jobs)
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
        for image_id, hashes, error in results:
            for algorithm in todo_of[image_id]:
                row = existing.get((image_id, algorithm))
                if row is None:
                    row = ImageHash(image_id=image_id, algorithm=algorithm)
                    session.add(row)
                row.hash_hex = hashes[algorithm] if hashes else None
                row.status = "ok" if hashes else "failed"
                row.error = error
                row.image_sha256 = sha_of[image_id]
                row.computed_at = utcnow()
