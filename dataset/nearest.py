"""All pairs of 64-bit hashes within a Hamming threshold, without comparing every pair.

`pairs_within` pairs the hashes of one array; `pairs_across` pairs each query (a mirrored or
turned hash, say) with the hashes of another array.

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


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    empty = np.empty(0, dtype=np.int64)
    return empty, empty.copy(), empty.copy()


def pairs_within(hashes: np.ndarray, threshold: int, bits: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i < j) whose hashes differ in at most `threshold` bits, with the distances, sorted by (i, j)."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(hashes) < 2:
        return _empty()
    plan = _plan(len(hashes), threshold, bits)
    if plan is None:
        i, j, d = _brute_force(hashes, hashes, threshold, self_join=True)
    else:
        i, j, d = _multi_index(hashes, hashes, threshold, *plan, self_join=True)
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]


def pairs_across(
    queries: np.ndarray, hashes: np.ndarray, threshold: int, bits: int = 64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query index q, hash index j) within `threshold` bits, with the distances, sorted by (q, j).

    >>> pairs_across(np.array([0b1, 2**64 - 1], dtype=np.uint64), np.array([0, 0b11], dtype=np.uint64), 1)
    (array([0, 0]), array([0, 1]), array([1, 1]))
    """
    queries = np.ascontiguousarray(queries, dtype=np.uint64)
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(queries) == 0 or len(hashes) == 0:
        return _empty()
    plan = _plan(len(hashes), threshold, bits, queries=len(queries))
    if plan is None:
        q, j, d = _brute_force(queries, hashes, threshold, self_join=False)
    else:
        q, j, d = _multi_index(queries, hashes, threshold, *plan, self_join=False)
    order = np.lexsort((j, q))
    return q[order], j[order], d[order]


def _chunks(bits: int, m: int) -> list[tuple[int, int]]:
    """(shift, width) of m nearly equal chunks covering `bits`."""
    widths = [bits // m + (1 if k < bits % m else 0) for k in range(m)]
    shifts = np.cumsum([0] + widths[:-1]).tolist()
    return list(zip(shifts, widths, strict=True))


def _plan(n: int, threshold: int, bits: int, queries: int | None = None) -> tuple[list[tuple[int, int]], int] | None:
    """The cheapest chunking for n hashes (probed by `queries` others, or by themselves), or None for exhaustive."""
    pairs = float(n) * n / 2 if queries is None else float(n) * queries
    # exhaustive: vectorised popcounts run ~8x a probe step
    best_cost, best = pairs / 8, None
    if pairs <= BRUTE_FORCE_MAX * BRUTE_FORCE_MAX / 2:
        return None
    probers = n if queries is None else queries
    for m in range(1, bits + 1):
        chunks = _chunks(bits, m)
        width = max(w for _, w in chunks)
        if width > MAX_TABLE_BITS:
            continue
        radius = threshold // m
        probes = sum(comb(w, k) for _, w in chunks for k in range(min(radius, w) + 1))
        cost = sum(
            sum(comb(w, k) for k in range(min(radius, w) + 1)) * (probers + n * probers / 2**w) + 2**w for _, w in chunks
        )
        if probes and cost < best_cost:
            best_cost, best = cost, (chunks, radius)
    return best


def _brute_force(
    queries: np.ndarray, hashes: np.ndarray, threshold: int, self_join: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found_i, found_j, found_d = [], [], []
    for start in range(0, len(queries), BLOCK_ROWS):
        rows = queries[start:start + BLOCK_ROWS]
        first = start if self_join else 0  # a self-join only needs columns right of the diagonal
        dist = popcount(rows[:, None] ^ hashes[None, first:])
        r, c = np.nonzero(dist <= threshold)
        keep = c + first > r + start if self_join else np.ones(len(r), dtype=bool)
        found_i.append(r[keep] + start)
        found_j.append(c[keep] + first)
        found_d.append(dist[r[keep], c[keep]])
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_d)


def _flip_masks(width: int, radius: int) -> list[int]:
    return [sum(1 << b for b in bits) for k in range(radius + 1) for bits in combinations(range(width), k)]


def _multi_index(
    queries: np.ndarray, hashes: np.ndarray, threshold: int, chunks: list[tuple[int, int]], radius: int,
    self_join: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found_i, found_j, found_d = [], [], []
    index_type = np.int32 if max(len(hashes), len(queries)) < 2**31 else np.int64
    for c, (shift, width) in enumerate(chunks):
        chunk_mask = np.uint64((1 << width) - 1)
        values = ((hashes >> np.uint64(shift)) & chunk_mask).astype(np.int32)
        asked = values if self_join else ((queries >> np.uint64(shift)) & chunk_mask).astype(np.int32)
        order = np.argsort(values, kind="stable").astype(index_type)
        # Hashes in bucket order: a bucket's candidates are read as one run of memory.
        bucketed = hashes[order]
        offsets = np.zeros((1 << width) + 1, dtype=index_type)
        np.cumsum(np.bincount(values, minlength=1 << width), out=offsets[1:])
        # Queries in order of their chunk value: each probe then reads the bucket table nearly in order.
        by_value = np.argsort(asked, kind="stable").astype(index_type)
        sorted_asked, sorted_queries = asked[by_value], queries[by_value]
        for mask in _flip_masks(width, radius):
            probe = sorted_asked ^ np.int32(mask)
            start = offsets[probe]
            count = offsets[probe + 1] - start
            hit = np.flatnonzero(count)
            if len(hit) == 0:
                continue
            count_q = count[hit]
            ends = np.cumsum(count_q, dtype=np.int64)
            positions = np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - count_q - start[hit], count_q)
            dist = popcount(np.repeat(sorted_queries[hit], count_q) ^ bucketed[positions])
            # Most candidates are too far: only the close ones are traced back to their query and hash.
            close = np.flatnonzero(dist <= threshold)
            qi = by_value[hit[np.searchsorted(ends, close, side="right")]].astype(np.int64)
            cj = order[positions[close]].astype(np.int64)
            dist = dist[close]
            keep = qi < cj if self_join else np.ones(len(qi), dtype=bool)
            # A pair close on an earlier chunk was reported there already.
            xor = queries[qi] ^ hashes[cj]
            for prev_shift, prev_width in chunks[:c]:
                prev = popcount((xor >> np.uint64(prev_shift)) & np.uint64((1 << prev_width) - 1))
                keep &= prev > radius
            found_i.append(qi[keep])
            found_j.append(cj[keep])
            found_d.append(dist[keep])
    if not found_i:
        return _empty()
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_d)
