"""dataset.nearest by hand: the chunking, the smallest inputs, and that large inputs take the index path."""

from __future__ import annotations

import numpy as np
import pytest

from dataset import nearest
from dataset.nearest import pairs_within


@pytest.mark.parametrize(("bits", "m", "chunks"), [
    (64, 1, [(0, 64)]),
    (64, 3, [(0, 22), (22, 21), (43, 21)]),  # 64 = 22 + 21 + 21: the remainder goes to the first chunks
    (10, 4, [(0, 3), (3, 3), (6, 2), (8, 2)]),
    (64, 8, [(s, 8) for s in range(0, 64, 8)]),
])
def test_chunks_partition_the_bits(bits, m, chunks):
    assert nearest._chunks(bits, m) == chunks


def test_two_hashes_make_one_pair():
    i, j, d = pairs_within(np.array([0b1011, 0b0001], dtype=np.uint64), 2)
    assert (i.tolist(), j.tolist(), d.tolist()) == ([0], [1], [2])
    assert [a.tolist() for a in pairs_within(np.array([0b1011, 0b0001], dtype=np.uint64), 1)] == [[], [], []]


def test_large_inputs_use_the_index_and_find_exactly_the_planted_pairs(monkeypatch):
    def refuse(*_args):
        raise AssertionError("exhaustive comparison on a large input")

    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 2**63, 4000, dtype=np.uint64)
    hashes[1] = hashes[0] ^ np.uint64(0b101)  # 2 bits apart
    hashes[3] = hashes[2] ^ np.uint64(1 << 63 | 1 << 40 | 1 << 20 | 1)  # 4 bits apart, spread over the chunks
    monkeypatch.setattr(nearest, "_brute_force", refuse)
    i, j, d = pairs_within(hashes, 4)
    assert i.dtype == j.dtype == d.dtype == np.int64
    assert sorted(zip(i.tolist(), j.tolist(), d.tolist(), strict=True)) == [(0, 1, 2), (2, 3, 4)]
    i, j, d = pairs_within(hashes[4:], 1)  # random 63-bit values: no pair within 1 bit
    assert (len(i), len(j), len(d)) == (0, 0, 0) and i.dtype == np.int64


def test_a_pair_seen_by_one_probe_alone_is_found():
    # a and b differ by one bit in each of four 16-bit chunks: within radius 1 on every chunk, so the first
    # chunk must report the pair, through the one probe (flip bit 7) that a single query hits; the flips of
    # bits 0-6 before it hit nothing.
    chunks = [tuple(range(start, start + 16)) for start in range(0, 64, 16)]
    hashes = np.array([0, 1 << 7 | 1 << 23 | 1 << 39 | 1 << 55], dtype=np.uint64)
    i, j, d = nearest._multi_index(hashes, hashes, 4, chunks, radius=1, self_join=True)
    assert (i.tolist(), j.tolist(), d.tolist()) == ([0], [1], [4])
    q, h, d = nearest._multi_index(hashes[:1], hashes, 4, chunks, radius=1, self_join=False)
    assert (q.tolist(), h.tolist(), d.tolist()) == ([0, 0], [0, 1], [0, 4])


def test_one_query_or_one_hash_is_searched_too():
    hashes = np.array([0, 1 << 7 | 1 << 23 | 1 << 39 | 1 << 55], dtype=np.uint64)
    assert [a.tolist() for a in nearest.pairs_across(hashes[:1], hashes, 4)] == [[0, 0], [0, 1], [0, 4]]
    assert [a.tolist() for a in nearest.pairs_across(hashes, hashes[1:], 4)] == [[0, 1], [0, 0], [4, 0]]
    assert [a.tolist() for a in nearest.pairs_across(hashes[:0], hashes, 4)] == [[], [], []]
