"""All pairs of 64-bit hashes within a Hamming threshold, without comparing every pair.

Multi-index hashing (Norouzi et al., 2012): split the bits into m chunks; two hashes within
distance t agree to within r = t // m bits on at least one chunk (pigeonhole). Each chunk gets a
direct-address bucket table; for every flip mask of <= r bits the whole array is probed at once
(numpy, no Python loop over items), candidates are verified with a popcount, and a pair is kept
only in the first chunk that finds it. m is chosen by a cost model from N and t. Small inputs are
compared exhaustively, which is faster there.

>>> import numpy as np
>>> pairs_within(np.array([0, 0b111, 2**64 - 1], dtype=np.uint64), threshold=3)
(array([0]), array([1]), array([3]))
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

# Below this many hashes the exhaustive comparison wins.
BRUTE_FORCE_MAX = 3000
# Largest chunk width given a direct-address table (2**24 int64 offsets = 128 MiB).
MAX_TABLE_BITS = 24
BLOCK_ROWS = 512


def popcount(values: np.ndarray) -> np.ndarray:
    return np.bitwise_count(values).astype(np.int64)


def pairs_within(hashes: np.ndarray, threshold: int, bits: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i < j) whose hashes differ in at most `threshold` bits, with the distances, sorted by (i, j)."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(hashes) < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    plan = _plan(len(hashes), threshold, bits)
    if plan is None:
        i, j, d = _brute_force(hashes, threshold)
    else:
        i, j, d = _multi_index(hashes, threshold, *plan)
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]


def _chunks(bits: int, m: int) -> list[tuple[int, int]]:
    """(shift, width) of m nearly equal chunks covering `bits`."""
    widths = [bits // m + (1 if k < bits % m else 0) for k in range(m)]
    shifts = np.cumsum([0] + widths[:-1]).tolist()
    return list(zip(shifts, widths, strict=True))


def _plan(n: int, threshold: int, bits: int) -> tuple[list[tuple[int, int]], int] | None:
    """The cheapest chunking for n hashes, or None when exhaustive comparison is cheaper."""
    best_cost, best = float(n) * n / 2 / 8, None  # exhaustive: vectorised popcounts run ~8x a probe step
    if n <= BRUTE_FORCE_MAX:
        return None
    for m in range(1, bits + 1):
        chunks = _chunks(bits, m)
        width = max(w for _, w in chunks)
        if width > MAX_TABLE_BITS:
            continue
        radius = threshold // m
        probes = sum(comb(w, k) for _, w in chunks for k in range(min(radius, w) + 1))
        cost = sum(
            sum(comb(w, k) for k in range(min(radius, w) + 1)) * (n + n * n / 2**w) + 2**w for _, w in chunks
        )
        if probes and cost < best_cost:
            best_cost, best = cost, (chunks, radius)
    return best


def _brute_force(hashes: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found_i, found_j, found_d = [], [], []
    for start in range(0, len(hashes), BLOCK_ROWS):
        rows = hashes[start:start + BLOCK_ROWS]
        dist = popcount(rows[:, None] ^ hashes[None, start:])
        r, c = np.nonzero(dist <= threshold)
        keep = c > r
        found_i.append(r[keep] + start)
        found_j.append(c[keep] + start)
        found_d.append(dist[r[keep], c[keep]])
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_d)


def _flip_masks(width: int, radius: int) -> list[int]:
    return [sum(1 << b for b in bits) for k in range(radius + 1) for bits in combinations(range(width), k)]


def _multi_index(
    hashes: np.ndarray, threshold: int, chunks: list[tuple[int, int]], radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found_i, found_j, found_d = [], [], []
    for c, (shift, width) in enumerate(chunks):
        values = ((hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)
        order = np.argsort(values, kind="stable")
        offsets = np.zeros((1 << width) + 1, dtype=np.int64)
        np.cumsum(np.bincount(values, minlength=1 << width), out=offsets[1:])
        for mask in _flip_masks(width, radius):
            probe = values ^ mask
            start = offsets[probe]
            count = offsets[probe + 1] - start
            queries = np.flatnonzero(count)
            if len(queries) == 0:
                continue
            count_q = count[queries]
            total = int(count_q.sum())
            first = np.cumsum(count_q) - count_q
            positions = np.arange(total) - np.repeat(first - start[queries], count_q)
            qi = np.repeat(queries, count_q)
            cj = order[positions]
            keep = qi < cj
            qi, cj = qi[keep], cj[keep]
            xor = hashes[qi] ^ hashes[cj]
            dist = popcount(xor)
            keep = dist <= threshold
            # A pair close on an earlier chunk was reported there already.
            for prev_shift, prev_width in chunks[:c]:
                prev = popcount((xor >> np.uint64(prev_shift)) & np.uint64((1 << prev_width) - 1))
                keep &= prev > radius
            found_i.append(qi[keep])
            found_j.append(cj[keep])
            found_d.append(dist[keep])
    # never empty: every chunk probes its own value (mask 0), so each appends at least an empty array
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_d)
