"""Hamming search: multi-index hashing finds exactly what exhaustive comparison finds."""

import numpy as np
import pytest

from dataset import nearest
from dataset.nearest import pairs_within


def planted(n: int, pairs: int, max_bits: int, seed: int = 0) -> tuple[np.ndarray, set]:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
    planted_pairs = set()
    for k in range(pairs):
        a, b = 2 * k, 2 * k + 1
        flips = rng.choice(64, int(rng.integers(0, max_bits + 1)), replace=False)
        hashes[b] = hashes[a] ^ np.uint64(sum(1 << int(f) for f in flips))
        planted_pairs.add((a, b))
    return hashes, planted_pairs


@pytest.mark.parametrize("threshold", [0, 3, 8, 12])
def test_multi_index_equals_exhaustive(threshold):
    hashes, planted_pairs = planted(6000, 300, threshold)
    if threshold <= 8:
        assert nearest._plan(len(hashes), threshold, 64) is not None  # the index path, not the fallback
    i, j, d = pairs_within(hashes, threshold)
    bi, bj, bd = nearest._brute_force(hashes, hashes, threshold, self_join=True)
    assert sorted(zip(i.tolist(), j.tolist(), d.tolist(), strict=True)) == sorted(zip(bi.tolist(), bj.tolist(), bd.tolist(), strict=True))
    assert planted_pairs <= set(zip(i.tolist(), j.tolist(), strict=True))
    assert np.all(np.diff(i) >= 0) and np.all(i < j)


def test_identical_hashes_pair_every_copy_once():
    hashes, _ = planted(5000, 0, 0)
    hashes[[10, 20, 30, 40]] = 5
    i, j, d = pairs_within(hashes, 0)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(10, 20), (10, 30), (10, 40), (20, 30), (20, 40), (30, 40)]
    assert d.tolist() == [0] * 6


def test_small_inputs():
    assert [a.tolist() for a in pairs_within(np.array([], dtype=np.uint64), 8)] == [[], [], []]
    assert [a.tolist() for a in pairs_within(np.array([7], dtype=np.uint64), 8)] == [[], [], []]
    i, j, d = pairs_within(np.array([0, 0b111, 2**64 - 1], dtype=np.uint64), 3)
    assert (i.tolist(), j.tolist(), d.tolist()) == ([0], [1], [3])


@pytest.mark.parametrize("n_queries", [50, 20000])
def test_pairs_across_equals_exhaustive_and_finds_planted_queries(n_queries):
    hashes, _ = planted(8000, 0, 0, seed=1)
    rng = np.random.default_rng(2)
    queries = rng.integers(0, 2**64, n_queries, dtype=np.uint64, endpoint=False)
    truth = set()
    for q in range(0, n_queries, 7):  # every 7th query is a stored hash with up to 8 bits flipped
        j = int(rng.integers(0, len(hashes)))
        flips = rng.choice(64, int(rng.integers(0, 9)), replace=False)
        queries[q] = hashes[j] ^ np.uint64(sum(1 << int(f) for f in flips))
        truth.add((q, j))
    if n_queries > 1000:
        assert nearest._plan(len(hashes), 8, 64, queries=n_queries) is not None  # the index path
    q, j, d = nearest.pairs_across(queries, hashes, 8)
    # an independent check: Python's int.bit_count over every pair
    expected = sorted((a, b, (int(x) ^ int(y)).bit_count()) for a, x in enumerate(queries.tolist())
                      for b, y in enumerate(hashes.tolist()) if (int(x) ^ int(y)).bit_count() <= 8) if n_queries < 1000 else None
    got = list(zip(q.tolist(), j.tolist(), d.tolist(), strict=True))
    if expected is not None:
        assert got == expected
    else:
        bq, bj, bd = nearest._brute_force(queries, hashes, 8, self_join=False)
        assert sorted(got) == sorted(zip(bq.tolist(), bj.tolist(), bd.tolist(), strict=True))
    assert truth <= {(a, b) for a, b, _ in got}
