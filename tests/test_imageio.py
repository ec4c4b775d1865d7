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
