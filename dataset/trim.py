"""Find the print inside a scan: peel off uniform borders, card mounts and scanner-bed margins.

A border line (a row or column at an edge of the current box) is one whose pixels nearly all lie
within PIXEL_TOLERANCE grey levels of the colour of the side's outermost line, and whose mean has
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
MEAN_DRIFT = 4.0  # grey levels the mean of a flat line's near pixels may drift from the side's colour
BLOCK_LINES = 16  # lines judged at once
EDGE_SHARE = 0.75  # share of positions (middle half of the side) that leave the border's colour within EDGE_LINES
EDGE_LINES = 4  # lines past the flat run (plus the crossable ones) in which the edge must show
# Lines that are not flat but are crossed when flat lines follow (an embossed rule, dust): share of the side.
CROSS_SHARE = 0.025
MIN_KEPT = 0.2  # trim nothing when less than this share of the width or height would be left
MAX_ROUNDS = 4  # layers peeled per side at most (bed, card, white border, ...)


def has_flat_edge(pixels: np.ndarray) -> bool:
    """Whether any outermost row or column is flat: the cheap test before looking for borders at all."""
    return any(_flat_first_line(_lines(pixels, [0, 0, pixels.shape[1], pixels.shape[0]], side)) for side in range(4))


def content_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the picture inside its borders, right/bottom exclusive; the full box if none.

    `pixels`: greyscale (rows, columns) or colour (rows, columns, channels), 0..255; in colour a pixel's
    distance to the border's colour is the largest over the channels, so a beige card and a pale sky
    of one grey stay apart.
    """
    height, width = pixels.shape[:2]
    box = [0, 0, width, height]
    for _ in range(MAX_ROUNDS):
        before = list(box)
        for side in range(4):
            box = _peel(pixels, box, side)
        if box == before:
            break
    left, top, right, bottom = box
    if right - left < MIN_KEPT * width or bottom - top < MIN_KEPT * height:
        return 0, 0, width, height
    return left, top, right, bottom


def _lines(pixels: np.ndarray, box: list[int], side: int) -> np.ndarray:
    """The box's lines seen from `side` (0 left, 1 top, 2 right, 3 bottom), outermost first, one per row."""
    left, top, right, bottom = box
    inside = pixels[top:bottom, left:right]
    if side == 0:
        return inside.swapaxes(0, 1)
    if side == 1:
        return inside
    if side == 2:
        return inside.swapaxes(0, 1)[::-1]
    return inside[::-1]


def _distance(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Per pixel, how far from `colour` (grey levels; the largest over the channels in colour)."""
    difference = np.abs(pixels - colour)
    return difference.max(axis=-1) if difference.ndim == 3 else difference


def _flat_first_line(lines: np.ndarray) -> bool:
    if len(lines) < 2 or lines.shape[1] == 0:
        return False
    return (_distance(lines[0], np.median(lines[0], axis=0)) <= PIXEL_TOLERANCE).mean() >= FLAT_SHARE


def _peel(pixels: np.ndarray, box: list[int], side: int) -> list[int]:
    lines = _lines(pixels, box, side)
    if not _flat_first_line(lines):
        return box  # most photographs: the outermost line is not flat, nothing more to look at
    colour = np.median(lines[0], axis=0)
    cross = max(1, round(CROSS_SHARE * len(lines)))
    limit = int(len(lines) * (1.0 - MIN_KEPT)) + 1  # peeling deeper would trim nothing at all
    depth, gap, k = 1, 0, 1
    while k < limit and gap <= cross:
        # Lines are judged a block at a time: borders are a few lines deep, photographs many.
        block = lines[k : min(limit, k + BLOCK_LINES)]
        near = _distance(block, colour) <= PIXEL_TOLERANCE
        share = near.mean(axis=1)
        # The mean of the pixels near the colour tracks a gradient (a sky) that a flat paper does not have.
        weights = near[..., None] if block.ndim == 3 else near
        means = (block * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)
        drift = np.abs(means - colour).max(axis=-1) if block.ndim == 3 else np.abs(means - colour)
        for flat in (share >= FLAT_SHARE) & (drift <= MEAN_DRIFT):
            if flat:
                depth, gap = k + 1, 0
            else:
                gap += 1
                if gap > cross:
                    break
            k += 1
    # A straight edge: nearly every position along the middle half of the side (the ends may still run
    # into the borders of the sides next to it) leaves the border's colour at about the same depth.
    quarter = lines.shape[1] // 4
    past = _distance(lines[depth : depth + cross + EDGE_LINES, quarter : lines.shape[1] - quarter], colour) > PIXEL_TOLERANCE
    if depth < len(lines) and past.any(axis=0).mean() < EDGE_SHARE:
        return box
    box = list(box)
    if side < 2:
        box[side] += depth
    else:
        box[side] -= depth
    return box
