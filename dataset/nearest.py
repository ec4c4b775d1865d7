"""All pairs of 64-bit hashes within a Hamming threshold, without comparing every pair.

`pairs_within` pairs the hashes of one array; `pairs_across` pairs each query (a mirrored or
turned hash, say) with the hashes of another array.

Multi-index hashing (Norouzi et al., 2012): split the bits into m chunks; two hashes within
distance t agree to within r = t // m bits on at least one chunk (pigeonhole). Each chunk gets a
direct-address bucket table; for every flip mask of <= r bits the whole array is probed at once
(numpy, no Python loop over items), candidates are verified with a popcount, and a pair is kept
only in the first chunk that finds it. m is chosen by a cost model from N and t; which bits make
up each chunk (runs of neighbours, or every m-th bit) by counting candidates on a sample, since
clustered hashes crowd some chunks' buckets. A self-join probes each pair of buckets from one side.
Small inputs are compared exhaustively, which is faster there.

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
# Largest chunk width given a direct-address table (2**24 buckets: int32 counts and offsets, 64 MiB each).
MAX_TABLE_BITS = 24
BLOCK_ROWS = 512
# Sample on which the chunk layout is chosen: enough to count ~10^5 candidates on photo-like hashes.
LAYOUT_SAMPLE_QUERIES = 1024
LAYOUT_SAMPLE_HASHES = 1 << 17


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
        chunks = _layout(hashes, hashes, bits, *plan)
        i, j, d = _multi_index(hashes, hashes, threshold, chunks, plan[1], self_join=True)
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
        chunks = _layout(queries, hashes, bits, *plan)
        q, j, d = _multi_index(queries, hashes, threshold, chunks, plan[1], self_join=False)
    order = np.lexsort((j, q))
    return q[order], j[order], d[order]


def _chunks(bits: int, m: int) -> list[tuple[int, int]]:
    """(shift, width) of m nearly equal chunks covering `bits`."""
    widths = [bits // m + (1 if k < bits % m else 0) for k in range(m)]
    shifts = np.cumsum([0] + widths[:-1]).tolist()
    return list(zip(shifts, widths, strict=True))


def _plan(n: int, threshold: int, bits: int, queries: int | None = None) -> tuple[int, int] | None:
    """(chunks m, radius) cheapest for n hashes (probed by `queries` others, or by themselves), or None for exhaustive."""
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
            best_cost, best = cost, (m, radius)
    return best


def _layouts(bits: int, m: int) -> list[list[tuple[int, ...]]]:
    """Two ways to deal `bits` bit positions into m chunks: runs of neighbouring bits, or every m-th bit.

    A perceptual hash lays its DCT coefficients out row by row, so a run of bits is a few rows of
    neighbouring frequencies that vary together; dealt every m-th bit, each chunk samples all of them.
    """
    runs = [tuple(range(shift, shift + width)) for shift, width in _chunks(bits, m)]
    return [runs, [tuple(range(k, bits, m)) for k in range(m)]]


def _layout(
    queries: np.ndarray, hashes: np.ndarray, bits: int, m: int, radius: int
) -> list[tuple[int, ...]]:
    """The layout whose chunks' buckets give the fewest candidates on a sample of the data.

    Any partition of the bits keeps the pigeonhole argument, so the choice changes the work, not the pairs.
    Photo-like hashes have runs of bits that vary together (a dealt layout made ~2x fewer candidates on
    phashes fitted to photographs; benchmarks/bench_nearest.py); on uniform bits the layouts tie.
    """
    asked = queries[:: max(1, len(queries) // LAYOUT_SAMPLE_QUERIES)]
    stored = hashes[:: max(1, len(hashes) // LAYOUT_SAMPLE_HASHES)]
    best, best_candidates = None, None
    for chunks in _layouts(bits, m):
        candidates = 0
        for chunk in chunks:
            counts = np.bincount(_chunk_values(stored, chunk), minlength=1 << len(chunk))
            values = _chunk_values(asked, chunk)
            candidates += sum(int(counts[values ^ np.int32(mask)].sum()) for mask in _flip_masks(len(chunk), radius))
        if best_candidates is None or candidates < best_candidates:
            best, best_candidates = chunks, candidates
    return best


def _chunk_values(hashes: np.ndarray, chunk: tuple[int, ...]) -> np.ndarray:
    """int32 value of the bits at positions `chunk` (ascending) of each hash, packed low to high."""
    values = np.zeros(len(hashes), dtype=np.int32)
    for byte in range(8):
        inside = [(position - 8 * byte, rank) for rank, position in enumerate(chunk) if position // 8 == byte]
        if not inside:
            continue
        # byte value -> its bits of the chunk, moved to their ranks
        table = np.zeros(256, dtype=np.int32)
        for bit, rank in inside:
            table |= ((np.arange(256) >> bit) & 1).astype(np.int32) << rank
        values |= table[((hashes >> np.uint64(8 * byte)) & np.uint64(255)).astype(np.intp)]
    return values


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
    queries: np.ndarray, hashes: np.ndarray, threshold: int, chunks: list[tuple[int, ...]], radius: int,
    self_join: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs within `threshold` (a self-join: i < j), each reported by the first chunk where it is within `radius`."""
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for c, chunk in enumerate(chunks):
        earlier = [np.uint64(sum(1 << b for b in before)) for before in chunks[:c]]
        table = _BucketTable(queries, hashes, chunk, self_join)
        found.extend(table.probe(_flip_masks(len(chunk), radius), threshold, radius, earlier))
    if not found:
        return _empty()
    i, j, d = zip(*found, strict=True)
    return np.concatenate(i), np.concatenate(j), np.concatenate(d)


class _BucketTable:
    """One chunk of the multi-index: the hashes in bucket order and the queries in order of their chunk value."""

    def __init__(self, queries: np.ndarray, hashes: np.ndarray, chunk: tuple[int, ...], self_join: bool) -> None:
        index_type = np.int32 if max(len(hashes), len(queries)) < 2**31 else np.int64
        values = _chunk_values(hashes, chunk)
        asked = values if self_join else _chunk_values(queries, chunk)
        self.queries, self.hashes, self.self_join, self.index_type = queries, hashes, self_join, index_type
        self.order = np.argsort(values, kind="stable").astype(index_type)
        # Hashes in bucket order: a bucket's candidates are read as one run of memory.
        self.bucketed = hashes[self.order]
        self.counts = np.bincount(values, minlength=1 << len(chunk)).astype(index_type)
        self.offsets = np.cumsum(self.counts, dtype=index_type) - self.counts
        # A byte per bucket: most probes meet an empty bucket, found in a table a quarter the size.
        self.occupied = self.counts > 0
        # Queries in order of their chunk value: each probe then reads the bucket table nearly in order.
        self.by_value = np.argsort(asked, kind="stable").astype(index_type)
        self.sorted_asked, self.sorted_queries = asked[self.by_value], queries[self.by_value]

    def probe(
        self, masks: list[int], threshold: int, radius: int, earlier: list[np.uint64]
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(query, hash, distance) found through each flip mask, less pairs within `radius` on an `earlier` chunk."""
        found = []
        limit = np.uint8(threshold)
        for mask in masks:
            probe = self.sorted_asked ^ np.int32(mask)
            occupied = self.occupied[probe]
            if self.self_join and mask:
                # Buckets v and v ^ mask find each other's pairs: probe from the lower one only.
                occupied &= probe > self.sorted_asked
            hit = np.flatnonzero(occupied)
            if len(hit) == 0:
                continue
            bucket = probe[hit]
            count_q = self.counts[bucket]
            ends = np.cumsum(count_q, dtype=np.int64)
            position_type = self.index_type if ends[-1] < 2**31 else np.int64
            positions = np.arange(ends[-1], dtype=position_type)
            positions -= np.repeat((ends - count_q - self.offsets[bucket]).astype(position_type), count_q)
            candidates = self.bucketed[positions]
            candidates ^= np.repeat(self.sorted_queries[hit], count_q)
            dist = np.bitwise_count(candidates)
            # Most candidates are too far: only the close ones are traced back to their query and hash.
            close = np.flatnonzero(dist <= limit)
            qi = self.by_value[hit[np.searchsorted(ends, close, side="right")]].astype(np.int64)
            cj = self.order[positions[close]].astype(np.int64)
            dist = dist[close].astype(np.int64)
            if self.self_join:
                keep = qi < cj if mask == 0 else np.ones(len(qi), dtype=bool)
                qi, cj = np.minimum(qi, cj), np.maximum(qi, cj)
            else:
                keep = np.ones(len(qi), dtype=bool)
            # A pair close on an earlier chunk was reported there already.
            xor = self.queries[qi] ^ self.hashes[cj]
            for bits in earlier:
                keep &= np.bitwise_count(xor & bits) > radius
            found.append((qi[keep], cj[keep], dist[keep]))
        return found
