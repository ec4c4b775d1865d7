"""The replica's people (crawler/replica/figures.py): dressed by period, drawn from their own random stream."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from crawler.replica.figures import Dress, draw_figure
from crawler.replica.photos import render_photo

COAT, SKIN = np.array([0.2, 0.2, 0.25], np.float32), np.array([0.85, 0.68, 0.56], np.float32)


def test_every_pixel_but_the_people_is_drawn_as_before():
    # sha256 of the pixels of two pictures with no figures, rendered before figures were dressed (commit 899dc56):
    # the clothes' stream must not move any other draw
    assert hashlib.sha256(render_photo(1920, 2).tobytes()).hexdigest() == (
        "db622e78ef7fc8881bc0682c6e05056c3ae13643a80da99db96777fe31c86647")
    assert hashlib.sha256(render_photo(1880, 1).tobytes()).hexdigest() == (
        "946bcce778cbebc5d25206ac3aa67d39aca8df9c1d18ca37e94ade662a8e37b4")
    # a street with passers-by: the columns between them (124-250) are the pixels of the older version, so sky,
    # buildings, light, grain and print look drew exactly as before
    with_people = np.asarray(render_photo(1990, 3))
    assert hashlib.sha256(np.ascontiguousarray(with_people[:, 124:251]).tobytes()).hexdigest() == (
        "0928ecbcb4ceac6a69136ead0cabaead04d7effbecba6bbc54e47b67b3949005")
    # pictures under DRESSED_MIN_HEIGHT keep the older plain silhouettes: the small pictures tests build are unchanged
    assert hashlib.sha256(render_photo(1990, 3, (200, 150)).tobytes()).hexdigest() == (
        "92e183fd72b919cb40e0310eb1f954d7fe32fc7b6b2fb922639331c050eed89a")


def _drawn(year: int, seed: int) -> np.ndarray:
    canvas = np.full((200, 120, 3), 0.5, np.float32)
    draw_figure(canvas, cx=60, base=190, scale=3.0, coat=COAT, skin=SKIN, dress=Dress.of(year, seed, 120, 200, 0))
    return canvas


def _hat(canvas: np.ndarray) -> bool:
    """Anything drawn above the hair (head centre 190 - 40*3 - 1.05*19 = 50, hair top about 50 - 21 = 29)."""
    return bool((np.abs(canvas[:27] - 0.5).sum(axis=2) > 0.05).any())


def _bright(canvas: np.ndarray) -> float:
    """Share of the figure's pixels in saturated colour."""
    drawn = np.abs(canvas - 0.5).sum(axis=2) > 0.05
    saturation = canvas.max(axis=2) - canvas.min(axis=2)
    return float((saturation[drawn] > 0.35).mean())


def test_clothes_follow_the_period():
    early = [_drawn(1885, seed) for seed in range(40)]
    late = [_drawn(1985, seed) for seed in range(40)]
    assert np.mean([_hat(c) for c in early]) > 0.7 > 0.3 > np.mean([_hat(c) for c in late])
    assert np.mean([_bright(c) for c in late]) > np.mean([_bright(c) for c in early]) + 0.2
    assert np.array_equal(_drawn(1950, 3), _drawn(1950, 3))  # deterministic for (year, seed, size, sitting)


def test_the_detectors_find_some_of_the_replica_people():
    pytest.importorskip("cv2")
    from dataset.people import detect_people

    found = [bool(detect_people(render_photo(1900 + 9 * k, k))) for k in range(12)]
    assert sum(found) >= 3  # about half of replica pictures (benchmarks/results/people_evidence_replica.txt)
