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
    box = [0, 0, pixels.shape[1], pixels.shape[0]]
    return any(_flat_first_line(_lines(pixels, box, side)) is not None for side in range(4))


def content_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the picture inside its borders, right/bottom exclusive; the full box if none.

    `pixels`: greyscale (rows, columns) or colour (rows, columns, channels), 0..255; in colour a pixel's
    distance to the border's colour is the largest over the channels, so a beige card and a pale sky
    of one grey stay apart.
    """
    height, width = pixels.shape[:2]
    box = [0, 0, width, height]
    # A side is looked at again only when the box changed since it was last looked at: a peel depends
    # on nothing but the box, so the round that finds no change need not repeat the sides already seen.
    unchanged_since = 0  # sides looked at in a row without any change to the box
    for _ in range(MAX_ROUNDS):
        for side in range(4):
            if unchanged_since == 4:
                break
            peeled = _peel(pixels, box, side)
            unchanged_since = unchanged_since + 1 if peeled == box else 0
            box = peeled
        if unchanged_since == 4:
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
    if difference.ndim != 3:  # a block of grey lines, or one line (grey, or colour judged channel by channel)
        return difference
    # Channel by channel: a reduction over a last axis of 3 costs a call per pixel, maximum() one per channel.
    largest = difference[..., 0]
    for channel in range(1, difference.shape[-1]):
        largest = np.maximum(largest, difference[..., channel])
    return largest


def _median(line: np.ndarray) -> np.ndarray:
    """np.median(line, axis=0), without its general-purpose overhead (a line is at most a few hundred pixels)."""
    ordered = np.sort(line, axis=0)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / ordered.dtype.type(2)


def _near_means(block: np.ndarray, near: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per line of `block`, the mean of its pixels where `near` (`counts` of them): (block * near).sum(axis=1) / counts.

    The sums are one batched product (lines, 1, positions) @ (lines, positions, channels), not a product
    and a sum over the middle axis of a strided view (a left or right side's lines are columns). Pixels
    are whole grey levels, so float32 sums are exact in any order: the means are bit for bit the plain form's.
    """
    sums = np.matmul(near.astype(np.float32)[:, None, :], block if block.ndim == 3 else block[..., None])[:, 0]
    means = sums / np.maximum(counts, 1)[:, None]
    return means if block.ndim == 3 else means[:, 0]


def _flat_first_line(lines: np.ndarray) -> np.ndarray | None:
    """The colour of the outermost line when it is flat (its median), else None."""
    if len(lines) < 2 or lines.shape[1] == 0:
        return None
    colour = _median(lines[0])
    near = _distance(lines[0], colour) <= PIXEL_TOLERANCE
    return colour if np.count_nonzero(near) / near.size >= FLAT_SHARE else None


def _peel(pixels: np.ndarray, box: list[int], side: int) -> list[int]:
    lines = _lines(pixels, box, side)
    colour = _flat_first_line(lines)
    if colour is None:
        return box  # most photographs: the outermost line is not flat, nothing more to look at
    cross = max(1, round(CROSS_SHARE * len(lines)))
    limit = int(len(lines) * (1.0 - MIN_KEPT)) + 1  # peeling deeper would trim nothing at all
    depth, gap, k = 1, 0, 1
    while k < limit and gap <= cross:
        # Lines are judged a block at a time: borders are a few lines deep, photographs many.
        block = lines[k : min(limit, k + BLOCK_LINES)]
        near = _distance(block, colour) <= PIXEL_TOLERANCE
        counts = np.count_nonzero(near, axis=1)
        share = counts / near.shape[1]  # near.mean(axis=1), without its wrapper's overhead
        # The mean of the pixels near the colour tracks a gradient (a sky) that a flat paper does not have.
        means = _near_means(block, near, counts)
        drift = np.abs(means - colour).max(axis=-1) if block.ndim == 3 else np.abs(means - colour)
        for flat in ((share >= FLAT_SHARE) & (drift <= MEAN_DRIFT)).tolist():
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
    if depth < len(lines) and np.count_nonzero(past.any(axis=0)) / past.shape[1] < EDGE_SHARE:
        return box
    box = list(box)
    if side < 2:
        box[side] += depth
    else:
        box[side] -= depth
    return box
