"""The golden hashes recomputed without imagehash: pHash and dHash written out in numpy/scipy, from their
published definitions, on the same pixels (dataset.imageio at hashing's decode size, borders trimmed).

pHash (hackerfactor, "Looks like it"): 32x32 greyscale, 2-D DCT-II, the top-left 8x8 coefficients, one bit
per coefficient above their median. dHash: 9x8 greyscale, one bit per pixel brighter than its left neighbour.
Bits are read row by row, most significant first, and written as 16 hex digits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.fft import dct

from dataset.hashing import DECODE_SIDE, hash_file, trim_picture
from dataset.imageio import load_image

DATA = Path(__file__).parent / "data" / "images"
GOLDEN = {  # as in tests/test_hashing.py
    "colour_1962.jpg": {"phash": "de8ce1608a9e9e71", "dhash": "6161602161412169"},
    "palette_1975.gif": {"phash": "b2e3499ab607a1f2", "dhash": "dccccc4d0d0d69a9"},
    "rotated_exif6.jpg": {"phash": "d9fd2626d81126ea", "dhash": "0000909292ccd231"},
    "sepia_1885.png": {"phash": "c9c8343796ca1f35", "dhash": "b8b3f3e3664a5874"},
}

def to_hex(bits: np.ndarray) -> str:
    return f"{int(''.join('1' if b else '0' for b in bits.flatten()), 2):016x}"


def phash(image: Image.Image) -> str:
    pixels = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    low = dct(dct(pixels, type=2, axis=0), type=2, axis=1)[:8, :8]
    return to_hex(low > np.median(low))


def dhash(image: Image.Image) -> str:
    pixels = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    return to_hex(pixels[:, 1:] > pixels[:, :-1])


def hashed_pixels(path: Path) -> Image.Image:
    """What hash_file hashes: the picture decoded in colour at hashing's size, grey, inside any borders."""
    colour = load_image(path, mode="RGB", min_side=DECODE_SIDE)
    return trim_picture(colour.convert("L"), lambda: colour)[0]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_hashes_match_the_published_algorithms(name):
    pixels = hashed_pixels(DATA / name)
    assert {"phash": phash(pixels), "dhash": dhash(pixels)} == GOLDEN[name]
    assert hash_file(DATA / name, ["phash", "dhash"]) == GOLDEN[name]


def test_the_hand_written_hashes_tell_pictures_apart():
    """A guard for the guard: the written-out algorithms give different bits on different pictures."""
    hashes = {phash(hashed_pixels(DATA / name)) for name in GOLDEN}
    assert len(hashes) == len(GOLDEN)
