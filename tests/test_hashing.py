"""Perceptual hashes: golden values on committed images, draft decode vs full decode on real photographs,
the 8 orientations against imagehash on turned pictures, borders trimmed off before hashing."""

from pathlib import Path

import imagehash
import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image

from crawler.replica.photos import mount_print, render_photo
from dataset.hashing import hash_file, hash_picture
from dataset.imageio import UnreadableImage
from dataset.orientations import ORIENTATIONS, PIL_TRANSPOSE

DATA = Path(__file__).parent / "data" / "images"

# Hashes of the trimmed pictures (all four have a flat strip at an edge: a border, or flat grass).
GOLDEN = {
    "colour_1962.jpg": {"phash": "de8ce1608a9e9e71", "dhash": "6161602161412169"},
    "palette_1975.gif": {"phash": "b2e3499ab607a1f2", "dhash": "dccccc4d0d0d69a9"},
    "rotated_exif6.jpg": {"phash": "d9fd2626d81126ea", "dhash": "0000909292ccd231"},
    "sepia_1885.png": {"phash": "c9c8343796ca1f35", "dhash": "b8b3f3e3664a5874"},
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


def test_upright_hash_is_imagehash_of_the_picture_inside_its_border(tmp_path):
    # sepia_1885.png: a 64x64 print with a flat 6-pixel card border, 8 pixels at the bottom (by eye: 0.094 = 6/64)
    picture = hash_picture(DATA / "sepia_1885.png", ["phash", "dhash"])
    assert picture.trim == "0.094,0.094,0.094,0.125"
    with Image.open(DATA / "sepia_1885.png") as img:
        inside = img.convert("L").crop((6, 6, 58, 56))
    assert picture.hashes["phash"][0] == str(imagehash.phash(inside))
    assert picture.hashes["dhash"][0] == str(imagehash.dhash(inside))
    render_photo(1962, 8, (300, 200)).save(tmp_path / "borderless.png")
    assert hash_picture(tmp_path / "borderless.png").trim is None


def test_orientation_hashes_match_imagehash_of_the_turned_picture(tmp_path):
    # At 32x32 the phash thumbnail is the picture itself, so mirrored and turned hashes must agree exactly.
    render_photo(1931, 4, (32, 32)).save(tmp_path / "square.png")
    square = hash_picture(tmp_path / "square.png", ["phash"]).hashes["phash"]
    with Image.open(tmp_path / "square.png") as img:
        grey = img.convert("L")
        for k, name in enumerate(ORIENTATIONS[1:], start=1):
            assert square[k] == str(imagehash.phash(grey.transpose(PIL_TRANSPOSE[name]))), name
    # On a larger photograph the resize rounds differently: within 3 bits, phash and dhash.
    render_photo(1962, 8, (300, 200)).save(tmp_path / "wide.png")  # no border: nothing trimmed
    wide_picture = hash_picture(tmp_path / "wide.png", ["phash", "dhash"])
    assert wide_picture.trim is None
    wide = wide_picture.hashes
    with Image.open(tmp_path / "wide.png") as img:
        for k, name in enumerate(ORIENTATIONS):
            turned = img.convert("L") if k == 0 else img.convert("L").transpose(PIL_TRANSPOSE[name])
            assert bits(wide["phash"][k], str(imagehash.phash(turned))) <= 3, name
            assert bits(wide["dhash"][k], str(imagehash.dhash(turned))) <= 3, name
    assert len(set(wide["phash"])) == 8  # a photograph is not symmetric: 8 different hashes


@pytest.mark.parametrize("mount, margins", [("card", (14, 12, 15, 34)), ("bed", (4, 40, 28, 9)), ("black_bed", (30, 3, 6, 22))])
def test_mounts_and_scanner_margins_are_trimmed_before_hashing(tmp_path, mount, margins):
    plain, mounted = tmp_path / "plain.jpg", tmp_path / "mounted.jpg"
    picture = render_photo(1948, 3, (240, 180))
    picture.save(plain, quality=90)
    mount_print(picture, mount, margins, seed=5).save(mounted, quality=80)
    a, b = hash_picture(plain, ["phash", "dhash"]), hash_picture(mounted, ["phash", "dhash"])
    assert a.trim is None and b.trim is not None
    width, height = 240 + margins[0] + margins[2], 180 + margins[1] + margins[3]
    shares = [float(x) for x in b.trim.split(",")]
    expected = [margins[0] / width, margins[1] / height, margins[2] / width, margins[3] / height]
    assert np.allclose(shares, expected, atol=0.02), (shares, expected)
    assert bits(a.hashes["phash"][0], b.hashes["phash"][0]) <= 4
    assert bits(a.hashes["dhash"][0], b.hashes["dhash"][0]) <= 6
