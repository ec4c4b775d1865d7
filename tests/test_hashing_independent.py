"""The golden hashes recomputed without imagehash: pHash and dHash written out in numpy/scipy, from their
published definitions, on the same decoded pixels (dataset.imageio at hashing's decode size).

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

from dataset.hashing import DECODE_SIDE, hash_file
from dataset.imageio import load_image

DATA = Path(__file__).parent / "data" / "images"
GOLDEN = {  # as in tests/test_hashing.py
    "colour_1962.jpg": {"phash": "de8ce160aa9e9c33", "dhash": "6161602141612149"},
    "palette_1975.gif": {"phash": "b2b3491af60725f2", "dhash": "dccc4c4d0d0ee996"},
    "rotated_exif6.jpg": {"phash": "f8d8a626d81927ea", "dhash": "00001190914d5171"},
    "sepia_1885.png": {"phash": "cdc9323286cdc17e", "dhash": "39b3f2e26569717d"},
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


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_hashes_match_the_published_algorithms(name):
    pixels = load_image(DATA / name, mode="L", min_side=DECODE_SIDE)  # what hash_file decodes
    assert {"phash": phash(pixels), "dhash": dhash(pixels)} == GOLDEN[name]
    assert hash_file(DATA / name, ["phash", "dhash"]) == GOLDEN[name]


def test_the_hand_written_hashes_tell_pictures_apart():
    """A guard for the guard: the written-out algorithms give different bits on different pictures."""
    hashes = {phash(load_image(DATA / name, mode="L", min_side=DECODE_SIDE)) for name in GOLDEN}
    assert len(hashes) == len(GOLDEN)
