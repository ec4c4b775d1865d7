"""Find the print inside a scan: peel off uniform borders, card mounts and scanner-bed margins.

A border line (a row or column at an edge of the current box) is one whose pixels nearly all lie
within PIXEL_TOLERANCE grey levels of the colour of the side's outermost line, and whose median has
not drifted from it: paper, card and scanner lids are flat. A flat area of the photograph (a clear
sky, a deep shadow) is flat too, so a border must also end in a straight edge: within a few lines of
where the flat run stops, nearly every pixel along the side has left the border's colour. A sky ends
where roofs and trees rise into it at many depths, or fades by a gradient, and is left alone. Lines are peeled from
each side in turn until no side changes, so nested layers (scanner bed, then card, then the print's
white border) come off one after another; a thin line that is not flat (the embossed rule around a
mounted print, a speck of dust) is crossed when flat lines follow it. When peeling would leave less
than MIN_KEPT of a side, nothing is trimmed: the picture itself is flat (a blank, a fog).

>>> import numpy as np
>>> card = np.full((40, 50), 200.0); card[5:30, 8:42] = np.random.default_rng(0).uniform(0, 255, (25, 34))
>>> content_box(card)
(8, 5, 42, 30)
"""

from __future__ import annotations

import numpy as np

# A line is flat when this share of its pixels lies within PIXEL_TOLERANCE of the side's colour.
FLAT_SHARE = 0.92
PIXEL_TOLERANCE = 14.0  # grey levels of 255
MEDIAN_DRIFT = 5.0  # grey levels a flat line's median may differ from the side's colour (no gradients)
EDGE_SHARE = 0.75  # share of positions along the side that leave the border's colour within EDGE_LINES
EDGE_LINES = 4  # lines past the flat run (plus the crossable ones) in which the edge must show
# Lines that are not flat but are crossed when flat lines follow (an embossed rule, dust): share of the side.
CROSS_SHARE = 0.025
MIN_KEPT = 0.2  # trim nothing when less than this share of the width or height would be left
MAX_ROUNDS = 4  # layers peeled per side at most (bed, card, white border, ...)


def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the picture inside its borders, right/bottom exclusive; the full box if none."""
    height, width = grey.shape
    box = [0, 0, width, height]
    for _ in range(MAX_ROUNDS):
        before = list(box)
        for side in range(4):
            box = _peel(grey, box, side)
        if box == before:
            break
    left, top, right, bottom = box
    if right - left < MIN_KEPT * width or bottom - top < MIN_KEPT * height:
        return 0, 0, width, height
    return left, top, right, bottom


def _lines(grey: np.ndarray, box: list[int], side: int) -> np.ndarray:
    """The box's lines seen from `side` (0 left, 1 top, 2 right, 3 bottom), outermost first, one per row."""
    left, top, right, bottom = box
    inside = grey[top:bottom, left:right]
    if side == 0:
        return inside.T
    if side == 1:
        return inside
    if side == 2:
        return inside.T[::-1]
    return inside[::-1]


def _peel(grey: np.ndarray, box: list[int], side: int) -> list[int]:
    lines = _lines(grey, box, side)
    if len(lines) < 2 or lines.shape[1] == 0:
        return box
    colour = float(np.median(lines[0]))
    near = np.abs(lines - colour) <= PIXEL_TOLERANCE
    flat = (near.mean(axis=1) >= FLAT_SHARE) & (np.abs(np.median(lines, axis=1) - colour) <= MEDIAN_DRIFT)
    if not flat[0]:
        return box
    cross = max(1, round(CROSS_SHARE * len(lines)))
    depth, gap = 1, 0
    for k in range(1, len(lines)):
        if flat[k]:
            depth, gap = k + 1, 0
        else:
            gap += 1
            if gap > cross:
                break
    # A straight edge: nearly every position along the side leaves the border's colour at about the same depth.
    if depth < len(lines) and (~near[depth:depth + cross + EDGE_LINES]).any(axis=0).mean() < EDGE_SHARE:
        return box
    box = list(box)
    if side < 2:
        box[side] += depth
    else:
        box[side] -= depth
    return box
