"""Decoding: draft scale, EXIF orientation, explicit modes, failures with reasons."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataset.imageio import UnreadableImage, load_image, probe, resize_short_side

DATA = Path(__file__).parent / "data" / "images"


def test_jpeg_is_decoded_at_reduced_scale_but_never_below_the_request(tmp_path):
    Image.new("RGB", (800, 600), (120, 80, 40)).save(tmp_path / "big.jpg")
    small = load_image(tmp_path / "big.jpg", min_side=64)
    assert small.size == (100, 75)  # 1/8 scale keeps the short side >= 64
    assert load_image(tmp_path / "big.jpg", min_side=200).size == (400, 300)
    assert load_image(tmp_path / "big.jpg").size == (800, 600)


def test_exif_orientation_is_applied():
    with Image.open(DATA / "rotated_exif6.jpg") as raw:
        assert raw.size == (48, 64)
    assert load_image(DATA / "rotated_exif6.jpg").size == (64, 48)


def test_alpha_is_flattened_onto_white_and_16_bit_grey_is_scaled(tmp_path):
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png").getpixel((0, 0)) == (255, 255, 255)
    grey16 = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    grey16.save(tmp_path / "grey16.tif")
    assert load_image(tmp_path / "grey16.tif", mode="L").getpixel((0, 0)) == 128  # 32768/65535*255 = 127.5, rounded


def test_resize_short_side_keeps_aspect():
    img = Image.new("RGB", (400, 300))
    assert resize_short_side(img, 64).size == (85, 64)
    assert resize_short_side(img.transpose(Image.Transpose.ROTATE_90), 64).size == (64, 85)


def test_probe_reports_format_and_rejects_unsupported(tmp_path):
    assert probe(DATA / "sepia_1885.png").format == "PNG"
    Image.new("RGB", (16, 16)).save(tmp_path / "icon.ico")
    with pytest.raises(UnreadableImage, match="unsupported format ICO"):
        probe(tmp_path / "icon.ico")


@pytest.mark.parametrize("fmt, mode, size", [("TIFF", "RGB", (1003, 707)), ("TIFF", "L", (640, 480)),
                                             ("PPM", "RGB", (333, 250)), ("TIFF", "RGBA", (300, 200))])
def test_raw_rows_are_reduced_band_by_band_to_the_same_pixels(tmp_path, monkeypatch, fmt, mode, size):
    """Uncompressed masters are read a band at a time; the result equals Pillow's reduce of the whole image."""
    import dataset.imageio as imageio

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    original = Image.fromarray(pixels.squeeze(), mode)
    path = tmp_path / f"master.{fmt.lower()}"
    original.save(path, fmt)
    monkeypatch.setattr(imageio, "BAND_BYTES", 7 * size[0])  # force many bands, and a ragged last one
    factor = min(size) // 64
    expected = imageio.to_mode(original.reduce(factor), "RGB")

    def whole_decode(img):
        raise AssertionError("decoded whole")

    monkeypatch.setattr(imageio, "_load", whole_decode)  # the banded path must run, never a full decode
    assert np.array_equal(np.asarray(load_image(path, "RGB", min_side=64)), np.asarray(expected))


def test_a_truncated_raw_tiff_is_unreadable_at_probe_and_load(tmp_path):
    path = tmp_path / "cut.tif"
    Image.new("RGB", (400, 300), "white").save(path, "TIFF")
    path.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(UnreadableImage, match=r"^cannot decode: truncated file \(355,\d+ of 360,\d+ bytes\)$"):
        probe(path)
    with pytest.raises(UnreadableImage, match=r"^cannot decode: truncated file"):
        load_image(path, min_side=64)


def test_whole_decodes_are_reduced_at_once_and_keep_their_orientation(tmp_path):
    """An LZW TIFF decodes whole; it is box-reduced before any copy, and its EXIF orientation still applies."""
    rng = np.random.default_rng(1)
    original = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    path = tmp_path / "master.tif"
    original.save(path, "TIFF", compression="tiff_lzw", exif=exif.tobytes())
    loaded = load_image(path, "RGB", min_side=100)
    expected = original.reduce(3).transpose(Image.Transpose.ROTATE_270)  # 400x300 / 3, then upright
    assert loaded.size == (100, 134) and np.array_equal(np.asarray(loaded), np.asarray(expected))
