"""Chunk layouts of the multi-index: any partition of the bits finds exactly what exhaustive search finds.

Photo-like hashes are clustered: runs of neighbouring bits vary together. The search deals the bits
into chunks (every m-th bit) when a sample says that makes fewer candidates; these tests pin the
bit extraction by hand, show the choice follows the data, and compare every path with brute force
on clustered hashes, down to dedupe's 8-orientation search.
"""

from __future__ import annotations

import numpy as np

from dataset import dedupe, nearest
from dataset.hashing import phash_orientations
from dataset.orientations import ORIENTATIONS, compose


def clustered_blocks(n: int, seed: int = 0) -> np.ndarray:
    """n low-frequency DCT blocks (n, 8, 8) around 20 centres, as photographs of a few kinds of scene."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, 8, 8)) * np.linspace(3, 0.3, 64).reshape(8, 8)
    return centres[rng.integers(0, 20, n)] + rng.standard_normal((n, 8, 8)) * 1.2


def test_chunk_values_gather_the_chosen_bits_low_to_high():
    hashes = np.array([0b1011_0110, 1 << 63 | 1 << 9 | 1], dtype=np.uint64)
    # bits 1, 2, 7 of 0b10110110 are 1, 1, 1; bit 4 is 1: (1, 4, 7) -> 0b111
    assert nearest._chunk_values(hashes, (1, 4, 7)).tolist() == [0b111, 0b000]
    # bits 0, 9, 63 of the second hash are set; chunk (0, 9, 62, 63) -> 0b1011
    assert nearest._chunk_values(hashes, (0, 9, 62, 63)).tolist() == [0b0000, 0b1011]
    runs = np.random.default_rng(1).integers(0, 2**64, 1000, dtype=np.uint64, endpoint=False)
    assert np.array_equal(nearest._chunk_values(runs, tuple(range(22, 43))), ((runs >> np.uint64(22)) & np.uint64(2**21 - 1)))


def test_layouts_partition_the_bits():
    for chunks in nearest._layouts(64, 3):
        assert sorted(b for chunk in chunks for b in chunk) == list(range(64))
        assert [len(chunk) for chunk in chunks] == [22, 21, 21]


def test_layout_follows_the_data():
    rng = np.random.default_rng(2)
    runs, dealt = nearest._layouts(64, 3)
    hashes = rng.integers(0, 2**64, 20000, dtype=np.uint64, endpoint=False)
    # every third bit constant: dealt, one chunk would be one bucket
    constant_dealt = hashes & ~np.uint64(sum(1 << b for b in dealt[0]))
    assert nearest._layout(constant_dealt, constant_dealt, 64, 3, 2) == runs
    # the top 22 bits constant: in runs, the last chunk would be one bucket
    constant_top = hashes & np.uint64(2**42 - 1)
    assert nearest._layout(constant_top, constant_top, 64, 3, 2) == dealt


def as_set(*columns: np.ndarray) -> list[tuple[int, ...]]:
    return sorted(zip(*(c.tolist() for c in columns), strict=True))


def test_clustered_phashes_every_layout_equals_exhaustive():
    hashes = phash_orientations(clustered_blocks(5000))
    queries, index = hashes[0], hashes.ravel()  # as dedupe searches: upright against all 8 orientations
    truth = as_set(*nearest._brute_force(queries, index, 8, self_join=False))
    assert len(truth) > 6000  # clustered: many pairs beyond each hash and its own upright copy
    m, radius = nearest._plan(len(index), 8, 64, queries=len(queries))
    for chunks in nearest._layouts(64, m):
        assert as_set(*nearest._multi_index(queries, index, 8, chunks, radius, False)) == truth
    q, j, _ = nearest.pairs_across(queries, index, 8)
    assert as_set(q, j) == [(a, b) for a, b, _ in truth]
    # an independent count for one query: Python's int.bit_count
    first = int(queries[0])
    assert sum(1 for y in index.tolist() if (first ^ y).bit_count() <= 8) == sum(1 for a, _, _ in truth if a == 0)

    within = as_set(*nearest._brute_force(queries, queries, 8, self_join=True))
    assert len(within) > 100
    m, radius = nearest._plan(len(queries), 8, 64)
    for chunks in nearest._layouts(64, m):
        assert as_set(*nearest._multi_index(queries, queries, 8, chunks, radius, True)) == within
    assert as_set(*nearest.pairs_within(queries, 8)) == within


def test_dedupe_search_with_orientations_equals_exhaustive(monkeypatch):
    hashes = phash_orientations(clustered_blocks(3000, seed=3))
    for k, turn in enumerate(ORIENTATIONS[1:]):  # picture 2k+1 is picture 2k turned, one bit off
        for s, name in enumerate(ORIENTATIONS):
            hashes[s, 2 * k + 1] = hashes[ORIENTATIONS.index(compose(turn, name)), 2 * k] ^ np.uint64(1 << (5 * k))
    arrays = {"phash": hashes}
    assert nearest._plan(hashes.size, 8, 64, queries=hashes.shape[1]) is not None  # the index path
    indexed = dedupe._near_pairs(arrays, ("phash",), 8)
    monkeypatch.setattr(nearest, "_plan", lambda *args, **kwargs: None)
    exhaustive = dedupe._near_pairs(arrays, ("phash",), 8)
    assert len(exhaustive) > 300
    assert {(2 * k, 2 * k + 1): turn for k, turn in enumerate(ORIENTATIONS[1:])}.items() <= {
        pair: edge.transform for pair, edge in indexed.items()}.items()
    assert indexed == exhaustive
