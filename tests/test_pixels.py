"""One pixel policy (db.pixels) for every stage: archive masters decode, the same refusal everywhere."""

from __future__ import annotations

import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from crawler.imagefile import ImageRejected, inspect_image
from dataset.hashing import hash_file
from dataset.imageio import ImageTooLarge, load_image, probe
from dataset.importer import ImportConfig, run_import
from db.models import Image
from db.pixels import DEFAULT_MAX_PIXELS, pixel_excess
from db.session import session_scope


def one_bit_png(width: int, height: int) -> bytes:
    """A real 1-bit PNG of zeros: many pixels in a few KB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * ((width + 7) // 8 + 1)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_the_message_is_computed_by_hand():
    assert pixel_excess(12_000, 9_000, 108_000_000) is None  # the limit itself is allowed
    assert pixel_excess(12_000, 9_001, 108_000_000) == (
        "12000x9001 = 108,012,000 pixels is over the limit of 108,000,000; downscale the file first, "
        "or raise --max-pixels")
    assert DEFAULT_MAX_PIXELS >= 300_000_000 * 1.5  # archive masters of 300 MP fit with room


def test_a_108_megapixel_jpeg_decodes_at_reduced_size(tmp_path):
    """predict refused a 12000x9000 JPEG while the README promised large photographs work."""
    path = tmp_path / "master.jpg"
    PILImage.new("L", (12_000, 9_000), 128).save(path, "JPEG", quality=50)
    picture = load_image(path, mode="RGB", min_side=224)
    assert picture.mode == "RGB" and 224 <= min(picture.size) < 2 * 1125  # draft: 1/8 scale is 1500x1125
    assert probe(path).width == 12_000 and hash_file(path, ["phash"])["phash"] == "8000000000000000"
    with pytest.raises(ImageTooLarge, match=r"^12000x9000 = 108,000,000 pixels is over the limit of 100,000,000"):
        load_image(path, min_side=224, max_pixels=100_000_000)


def test_what_the_crawl_stores_dedupe_can_hash_and_both_refuse_alike(tmp_path):
    """The crawl stored a 13000x13000 PNG as ok that dedupe then marked unreadable."""
    body = one_bit_png(13_000, 13_000)
    assert inspect_image(body, "image/png").width == 13_000
    path = tmp_path / "big.png"
    path.write_bytes(body)
    assert hash_file(path, ["dhash"]) == {"dhash": "0000000000000000"}  # all black: no gradient anywhere
    with pytest.raises(ImageRejected) as crawled:
        inspect_image(body, "image/png", max_pixels=100_000_000)
    with pytest.raises(ImageTooLarge) as hashed:
        hash_file(path, ["dhash"], max_pixels=100_000_000)
    assert crawled.value.reason == "image_too_many_pixels"
    assert crawled.value.detail == str(hashed.value) == pixel_excess(13_000, 13_000, 100_000_000)


def test_import_over_the_limit_is_a_failed_row_with_the_message(fresh_db, tmp_path):
    root = tmp_path / "scans"
    root.mkdir()
    PILImage.new("RGB", (50, 40), "white").save(root / "big.png")
    PILImage.new("RGB", (30, 20), "white").save(root / "small.png")
    config = ImportConfig(root, images_dir=tmp_path / "store", progress=False, max_pixels=1_000)
    summary = run_import(fresh_db, config)
    assert (summary.added, summary.failed) == (1, 1)
    assert summary.failures == [("big.png", pixel_excess(50, 40, 1_000))]
    with session_scope(fresh_db) as s:
        assert s.scalars(select(Image.status).where(Image.url.like("%big.png"))).one() == "failed"


def test_limits_are_per_call_not_a_global_that_threads_race_on():
    assert PILImage.MAX_IMAGE_PIXELS is None  # Pillow's process-wide check is off; ours takes the limit per call
    data = io.BytesIO()
    PILImage.new("RGB", (40, 30), "white").save(data, "PNG")
    body = data.getvalue()

    def decode(limit: int) -> str:
        try:
            return "ok" if load_image(body, max_pixels=limit).size == (40, 30) else "wrong size"
        except ImageTooLarge:
            return "refused"

    limits = [1_000, DEFAULT_MAX_PIXELS] * 100
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(decode, limits))
    assert answers == ["refused", "ok"] * 100
