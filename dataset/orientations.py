"""The 8 ways one print can be scanned: mirrored, rotated by 90/180/270 degrees, or both (the dihedral group).

Each orientation is named as Pillow's `Image.Transpose` names it and written as array steps on an
image array (rows, columns): transpose first or not, then reverse the rows, then reverse the columns.
The same steps act on a 2-D DCT: reversing an axis flips the sign of its odd frequencies, and a
transpose transposes the coefficients, so perceptual hashes of all 8 orientations come from one
DCT (dataset/hashing.py). Composition and inverses are worked out from the steps, not typed in.

>>> compose("rot90", "rot90")
'rot180'
>>> inverse("rot90")
'rot270'
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# name -> (transpose, reverse rows, reverse columns), applied in that order.
STEPS: dict[str, tuple[bool, bool, bool]] = {
    "none": (False, False, False),
    "mirror": (False, False, True),
    "flip": (False, True, False),
    "rot180": (False, True, True),
    "transpose": (True, False, False),
    "rot90": (True, True, False),
    "rot270": (True, False, True),
    "transverse": (True, True, True),
}
ORIENTATIONS = tuple(STEPS)
# Pillow's operation for each orientation (tests check STEPS against it).
PIL_TRANSPOSE = {
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
    "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "rot180": Image.Transpose.ROTATE_180,
    "transpose": Image.Transpose.TRANSPOSE,
    "rot90": Image.Transpose.ROTATE_90,
    "rot270": Image.Transpose.ROTATE_270,
    "transverse": Image.Transpose.TRANSVERSE,
}


def apply(name: str, array: np.ndarray) -> np.ndarray:
    """The array (rows, columns, ...) as the picture looks after `name`; a view, no copy."""
    transpose, rows, columns = STEPS[name]
    if transpose:
        array = array.swapaxes(0, 1)
    if rows:
        array = array[::-1]
    if columns:
        array = array[:, ::-1]
    return array


def dct_signs(name: str, size: int) -> tuple[bool, np.ndarray]:
    """(transpose, sign matrix) that turn the low `size` x `size` DCT block into that of the oriented picture."""
    transpose, rows, columns = STEPS[name]
    alternate = np.where(np.arange(size) % 2, -1.0, 1.0)
    row_signs = alternate if rows else np.ones(size)
    column_signs = alternate if columns else np.ones(size)
    return transpose, np.outer(row_signs, column_signs)


def _identify(array: np.ndarray) -> str:
    """The orientation that turns _PROBE (asymmetric, so each orientation gives a different array) into `array`."""
    return next(n for n in ORIENTATIONS if np.array_equal(apply(n, _PROBE), array))


def compose(first: str, then: str) -> str:
    """The single orientation equal to `first` followed by `then`."""
    return _COMPOSE[(first, then)]


def inverse(name: str) -> str:
    """The orientation that undoes `name`."""
    return next(other for other in ORIENTATIONS if compose(name, other) == "none")


_PROBE = np.arange(6).reshape(2, 3)
_COMPOSE = {(a, b): _identify(apply(b, apply(a, _PROBE))) for a in ORIENTATIONS for b in ORIENTATIONS}
