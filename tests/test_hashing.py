"""Perceptual hashes: golden values on committed images, draft decode vs full decode on real photographs."""

from pathlib import Path

import pytest
from matplotlib import cbook

from crawler.replica.photos import render_photo
from dataset.hashing import hash_file
from dataset.imageio import UnreadableImage

DATA = Path(__file__).parent / "data" / "images"

GOLDEN = {
    "colour_1962.jpg": {"phash": "de8ce160aa9e9c33", "dhash": "6161602141612149"},
    "palette_1975.gif": {"phash": "b2b3491af60725f2", "dhash": "dccc4c4d0d0ee996"},
    "rotated_exif6.jpg": {"phash": "f8d8a626d81927ea", "dhash": "00001190914d5171"},
    "sepia_1885.png": {"phash": "cdc9323286cdc17e", "dhash": "39b3f2e26569717d"},
}


def bits(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_hashes(name):
    assert hash_file(DATA / name, ["phash", "dhash"]) == GOLDEN[name]


def test_exif_orientation_is_applied_before_hashing(tmp_path):
    from PIL import Image

    with Image.open(DATA / "rotated_exif6.jpg") as img:
        upright = img.transpose(Image.Transpose.ROTATE_270)
        upright.save(tmp_path / "upright.jpg", quality=95)
    assert bits(hash_file(tmp_path / "upright.jpg")["phash"], GOLDEN["rotated_exif6.jpg"]["phash"]) <= 4


def test_draft_decode_changes_hashes_by_at_most_two_bits_on_photographs(tmp_path):
    photos = [Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))]
    for k, year in enumerate([1865, 1890, 1915, 1940, 1955, 1962, 1975, 1988]):
        photos.append(tmp_path / f"{year}.jpg")
        render_photo(year, k, (800, 600) if k % 2 else (600, 800)).save(photos[-1], quality=90)
    for photo in photos:
        draft = hash_file(photo, ["phash", "dhash"], draft=True)
        full = hash_file(photo, ["phash", "dhash"], draft=False)
        assert bits(draft["phash"], full["phash"]) <= 2, photo
        assert bits(draft["dhash"], full["dhash"]) <= 2, photo


def test_unreadable_files_raise_with_the_reason(tmp_path):
    truncated = tmp_path / "cut.jpg"
    data = (DATA / "colour_1962.jpg").read_bytes()
    truncated.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(UnreadableImage, match="cannot decode"):
        hash_file(truncated)
    (tmp_path / "page.jpg").write_text("<html>not found</html>")
    with pytest.raises(UnreadableImage, match="not an image"):
        hash_file(tmp_path / "page.jpg")
    with pytest.raises(UnreadableImage, match="file not found"):
        hash_file(tmp_path / "missing.jpg")
