"""Hashing in batches, upright only for `dedupe --no-transforms`, whole for `--no-trim`, at the decode size the hashes need."""

import io
import os
import time
from pathlib import Path

import imagehash
import pytest
from PIL import Image, ImageOps
from sqlalchemy import select

from crawler.replica.photos import mount_print, render_photo
from dataset.dedupe import DedupeConfig, run_dedupe
from dataset.hashing import (
    DECODE_SIDE,
    PLAIN_SIDE,
    chunk_sizes,
    hash_batch,
    hash_paths,
    hash_picture,
    plan_batches,
    trim_picture,
)
from dataset.imageio import UnreadableImage, load_image
from dataset.workers import shared_chunks
from db.models import ImageHash
from db.session import session_scope
from tests.conftest import REAL_PHOTOS

DATA = Path(__file__).parent / "data" / "images"


@pytest.fixture
def files(tmp_path) -> list[Path]:
    """Photographs with and without mounts, a truncated JPEG among them, and the committed test images."""
    paths = []
    for k, year in enumerate([1890, 1931, 1962]):
        picture = render_photo(year, k, (320, 240) if k % 2 else (240, 320))
        paths.append(tmp_path / f"plain_{k}.jpg")
        picture.save(paths[-1], quality=90)
        paths.append(tmp_path / f"card_{k}.jpg")
        mount_print(picture, "card", (20, 16, 22, 40), seed=k).save(paths[-1], quality=85)
    data = paths[0].read_bytes()
    paths.insert(3, tmp_path / "cut.jpg")
    paths[3].write_bytes(data[: len(data) // 2])
    return paths + sorted(DATA.iterdir())


def test_a_batch_hashes_each_file_as_alone_and_keeps_failures_in_place(files):
    batch = hash_batch([(path, ("phash", "dhash")) for path in files])
    assert len(batch) == len(files)
    for path, result in zip(files, batch, strict=True):
        if path.name == "cut.jpg":
            assert isinstance(result, UnreadableImage) and "cannot decode" in str(result)
            continue
        assert result == hash_picture(path, ["phash", "dhash"]), path.name
        assert all(len(hashes) == 8 for hashes in result.hashes.values())


def test_batched_phash_is_imagehash_of_the_trimmed_picture_on_real_photographs():
    # One batch's DCTs and medians are one array operation: each picture's bits must still be imagehash's own.
    paths = sorted((REAL_PHOTOS / "images").glob("*/*.jpg"))[::25]
    if not paths:
        pytest.skip(f"no real photographs under {REAL_PHOTOS}")
    batch = hash_batch([(path, ("phash",)) for path in paths])
    for path, result in zip(paths, batch, strict=True):
        colour = load_image(path, mode="RGB", min_side=DECODE_SIDE)
        trimmed, trim = trim_picture(colour.convert("L"), lambda colour=colour: colour)
        assert result.trim == trim
        assert result.hashes["phash"][0] == str(imagehash.phash(trimmed)), path.name


def test_upright_only_is_the_first_of_the_eight(files):
    readable = [path for path in files if path.name != "cut.jpg"]
    upright = hash_batch([(path, ("phash", "dhash")) for path in readable], orientations=False)
    every = hash_batch([(path, ("phash", "dhash")) for path in readable])
    for one, eight in zip(upright, every, strict=True):
        assert one.trim == eight.trim
        assert {name: hashes for name, hashes in one.hashes.items()} == {
            name: hashes[:1] for name, hashes in eight.hashes.items()}


def test_hash_paths_yields_every_job_once_across_workers_largest_files_first(files):
    jobs = [(100 + k, str(path), ("phash",)) for k, path in enumerate(files)]
    results = [item for batch in hash_paths(jobs, workers=2) for item in batch]
    assert sorted(key for key, _, _ in results) == [key for key, _, _ in jobs]
    failed = [(key, error) for key, picture, error in results if picture is None]
    assert [key for key, _ in failed] == [103] and "cannot decode" in failed[0][1]
    # Largest first: the last batches taken are the small files.
    planned = [job for batch in plan_batches(jobs, 2) for job in batch]
    sizes = [Path(path).stat().st_size if Path(path).exists() else 0 for _, path, _ in planned]
    assert sorted(planned) == sorted(jobs) and sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_batches_shrink_towards_the_end_so_workers_finish_together():
    sizes = chunk_sizes(400, 2)
    assert sum(sizes) == 400 and sizes[0] == 50 and max(sizes[-8:]) <= 2
    assert sizes == sorted(sizes, reverse=True)
    assert chunk_sizes(1000, 1)[0] == 64 and chunk_sizes(0, 2) == [] and chunk_sizes(3, 4) == [2, 1]


def test_every_worker_takes_batches_from_one_counter():
    # Each process, this one included, takes the next batch not yet taken: all of them work, none twice.
    chunks = [[k] for k in range(40)]
    done = dict(shared_chunks(_pid_after_a_while, chunks, 2))
    assert sorted(done) == list(range(40))
    assert len(set(done.values())) == 2


def test_a_worker_exception_is_raised_in_the_caller():
    with pytest.raises(ZeroDivisionError):
        list(shared_chunks(_fails_in_fork, [[1]] * 20, 2))


def _pid_after_a_while(chunk: list[int]) -> int:
    time.sleep(0.01)
    return os.getpid()


def _fails_in_fork(chunk: list[int]) -> int:
    time.sleep(0.005)
    if os.getpid() != PARENT_PID:
        return 1 // 0
    return 1


PARENT_PID = os.getpid()


def test_jpegs_decode_at_the_smallest_scale_that_keeps_128_pixels():
    # 2048x1536 -> 1/8 (256x192); 1280x960 -> 1/4 (320x240): 1/8 would leave 120 px, under 128 = 4 x 32.
    assert DECODE_SIDE == 128
    for size, decoded in [((2048, 1536), (256, 192)), ((1280, 960), (320, 240)), ((640, 480), (320, 240))]:
        buffer = io.BytesIO()
        render_photo(1950, 1, size).save(buffer, "JPEG", quality=90)
        assert load_image(buffer.getvalue(), mode="RGB", min_side=DECODE_SIDE).size == decoded


def stored_variants(engine) -> list[str | None]:
    with session_scope(engine) as session:
        return sorted(row.variants for row in session.scalars(select(ImageHash)))


@pytest.mark.backends("sqlite", "postgresql")
def test_no_transforms_hashes_upright_only_and_a_run_with_transforms_hashes_again(fresh_db, add_photo):
    for k in range(3):
        add_photo(f"r{k}", render_photo(1900 + 20 * k, k, (200, 150)), "1940")
    quick = run_dedupe(fresh_db, DedupeConfig(progress=False, transforms=False))
    assert (quick.hashed, quick.reused_hashes) == (3, 0)
    assert stored_variants(fresh_db) == ["", "", "", "", "", ""]  # phash and dhash, upright only
    again = run_dedupe(fresh_db, DedupeConfig(progress=False, transforms=False))
    assert (again.hashed, again.reused_hashes) == (0, 3)  # upright is all --no-transforms needs
    full = run_dedupe(fresh_db, DedupeConfig(progress=False))
    assert (full.hashed, full.reused_hashes) == (3, 0)
    assert all(len(variants.split()) == 7 for variants in stored_variants(fresh_db))
    assert run_dedupe(fresh_db, DedupeConfig(progress=False, transforms=False)).reused_hashes == 3


def test_no_trim_hashes_the_whole_picture_as_imagehash_does(tmp_path):
    # A mounted print under 64 px is decoded as it is: the untrimmed hashes are imagehash's of the whole
    # picture, card included, bit for bit; the default hashes only the print inside the card.
    path = tmp_path / "small_card.png"
    mount_print(render_photo(1948, 3, (40, 30)), "card", (4, 4, 5, 9), seed=5).save(path)
    plain = hash_picture(path, ["phash", "dhash"], orientations=False, trim=False)
    trimmed = hash_picture(path, ["phash", "dhash"], orientations=False)
    assert plain.trim is None and trimmed.trim is not None
    with Image.open(path) as img:
        whole = img.convert("L")
    assert plain.hashes == {"phash": (str(imagehash.phash(whole)),), "dhash": (str(imagehash.dhash(whole)),)}
    assert plain.hashes["phash"] != trimmed.hashes["phash"]


def test_no_trim_decodes_jpegs_at_phash_size_near_the_published_phash_of_the_full_decode():
    # 600-640 px real scans decode at 1/8 (75-80 px), whose 8x8 block means filter before the resize to 32:
    # on average within 2 bits of imagehash.phash of the whole decode (1.67 on all 200, 83% within 2 bits).
    assert PLAIN_SIDE == 32
    photos = sorted(REAL_PHOTOS.glob("*/*.jpg"))[::10] if REAL_PHOTOS.exists() else []
    photos += [DATA / "colour_1962.jpg", DATA / "rotated_exif6.jpg"]
    distances = []
    for photo in photos:
        ours = hash_picture(photo, ["phash"], orientations=False, trim=False).hashes["phash"][0]
        with Image.open(photo) as img:
            reference = str(imagehash.phash(ImageOps.exif_transpose(img)))
        distances.append((int(ours, 16) ^ int(reference, 16)).bit_count())
    assert sum(distances) / len(distances) <= 2.0 and max(distances) <= 8, distances


@pytest.mark.parametrize("workers", [2, 3])
def test_hash_paths_with_workers_gives_what_one_process_gives(files, workers):
    # Every process takes batches from one counter: the same results, each job once, in any order.
    jobs = [(k, str(path), ("phash", "dhash")) for k, path in enumerate(files * 3)]
    alone = [item for batch in hash_paths(jobs, workers=1) for item in batch]
    shared = [item for batch in hash_paths(jobs, workers=workers) for item in batch]
    assert sorted(shared, key=str) == sorted(alone, key=str) and len(shared) == len(jobs)


def stored_kinds(engine) -> list[tuple[str | None, str | None]]:
    with session_scope(engine) as session:
        return sorted((row.kind, row.trim) for row in session.scalars(select(ImageHash)))


@pytest.mark.backends("sqlite", "postgresql")
def test_no_trim_hashes_are_kept_apart_from_trimmed_ones(fresh_db, add_photo):
    picture = render_photo(1931, 2, (240, 180))
    add_photo("card", mount_print(picture, "card", (20, 16, 22, 40), seed=1), "1931")
    add_photo("plain", render_photo(1950, 1, (240, 180)), "1950")
    quick = run_dedupe(fresh_db, DedupeConfig(progress=False, transforms=False, trim=False))
    assert (quick.hashed, quick.reused_hashes) == (2, 0)
    assert stored_kinds(fresh_db) == [("plain", None)] * 4  # phash and dhash of two pictures, nothing cut
    assert run_dedupe(fresh_db, DedupeConfig(progress=False, transforms=False, trim=False)).reused_hashes == 2
    full = run_dedupe(fresh_db, DedupeConfig(progress=False, transforms=False))
    assert (full.hashed, full.reused_hashes) == (2, 0)  # the trimmed kind is hashed again
    kinds = stored_kinds(fresh_db)
    assert [kind for kind, _ in kinds] == ["trimmed"] * 4 and all(trim is not None for _, trim in kinds)
    # Rows stored before schema v11 (kind NULL) were trimmed: a default run reuses them.
    with session_scope(fresh_db) as session:
        for row in session.scalars(select(ImageHash)):
            row.kind = None
    assert run_dedupe(fresh_db, DedupeConfig(progress=False, transforms=False)).reused_hashes == 2
    assert run_dedupe(fresh_db, DedupeConfig(progress=False, transforms=False, trim=False)).hashed == 2
