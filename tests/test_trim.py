"""dataset/trim.py's shortcuts against the plain forms they replace: numpy's median, and peeling every
side in full rounds until a round changes nothing."""

import numpy as np
import pytest

from crawler.replica.photos import mount_print, render_photo
from dataset import trim


def rounds_until_stable(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """content_box as first written: whole rounds of the 4 sides until one changes nothing."""
    height, width = pixels.shape[:2]
    box = [0, 0, width, height]
    for _ in range(trim.MAX_ROUNDS):
        before = list(box)
        for side in range(4):
            box = trim._peel(pixels, box, side)
        if box == before:
            break
    left, top, right, bottom = box
    if right - left < trim.MIN_KEPT * width or bottom - top < trim.MIN_KEPT * height:
        return 0, 0, width, height
    return left, top, right, bottom


@pytest.mark.parametrize("shape", [(7,), (8,), (31, 3), (64, 3), (1,), (2, 3)])
def test_median_is_numpys(shape):
    line = np.random.default_rng(len(shape) * 100 + shape[0]).integers(0, 256, shape).astype(np.float32)
    assert np.array_equal(trim._median(line), np.median(line, axis=0))


def test_content_box_skips_only_sides_that_cannot_change():
    rng = np.random.default_rng(1)
    boxes = []
    for k in range(60):
        picture = render_photo(1880 + k, k, (int(rng.integers(60, 200)), int(rng.integers(60, 200))))
        margins = tuple(int(x) for x in rng.integers(0, 25, 4))
        mounted = np.asarray(mount_print(picture, ("card", "bed", "black_bed")[k % 3], margins, seed=k), dtype=np.float32)
        for pixels in (mounted, mounted.mean(axis=2)):
            boxes.append(trim.content_box(pixels))
            assert boxes[-1] == rounds_until_stable(pixels), k
    assert sum(box[:2] != (0, 0) for box in boxes) > 60  # most mounts were found, so peeling was exercised


@pytest.mark.parametrize("channels", [None, 3])
@pytest.mark.parametrize("side", range(4))
def test_near_means_are_the_plain_weighted_means(channels, side):
    shape = (90, 140) if channels is None else (90, 140, channels)
    pixels = np.random.default_rng(side).integers(0, 256, shape).astype(np.float32)  # whole grey levels, as decoded
    block = trim._lines(pixels, [3, 5, 131, 80], side)[2:18]  # strided views for the left and right sides
    colour = trim._median(block[0])
    near = trim._distance(block, colour) <= 60.0
    weights = near[..., None] if block.ndim == 3 else near
    plain = (block * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)
    means = trim._near_means(block, near, np.count_nonzero(near, axis=1))
    assert means.shape == plain.shape and means.dtype == plain.dtype
    assert np.array_equal(means, plain)
