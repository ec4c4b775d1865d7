"""dataset.split on made-up candidates: fractions, largest-remainder targets, whole groups, balancing."""

from __future__ import annotations

from collections import Counter

import pytest

from dataset.catalog import Candidate
from dataset.split import (
    BadSplitOptions,
    assign_splits,
    balance_train,
    parse_fractions,
    split_targets,
    stable_key,
)


def candidate(image_id: int, bin_index: int, group_id: int | None = None, source_id: str | None = None) -> Candidate:
    return Candidate(image_id=image_id, record_id=image_id, source_id=source_id or f"S{image_id:04d}", path="/x.jpg",
                     year=1900, year_min=1900, year_max=1900, bin_index=bin_index, cluster_id=image_id,
                     group_id=image_id if group_id is None else group_id, excluded=False, width=8, height=8,
                     format="JPEG")


@pytest.mark.parametrize(("text", "expected"), [("0.8,0.1,0.1", (0.8, 0.1, 0.1)), ("1,0,0", (1.0, 0.0, 0.0)),
                                                ("0.5, 0.25, 0.25", (0.5, 0.25, 0.25)),
                                                # thirds as typed: they sum to 0.9999999, within the 1e-6 allowed
                                                ("0.3333333,0.3333333,0.3333333", (0.3333333,) * 3)])
def test_parse_fractions(text, expected):
    assert parse_fractions(text) == expected


@pytest.mark.parametrize("text", ["0.8,0.3", "0.8,0.1,0.2", "-0.2,0.6,0.6", "a,b,c", "0.5,0.5,0,0", ""])
def test_bad_fractions_are_refused(text):
    with pytest.raises(BadSplitOptions, match=r"^Cannot use --splits .*expected three fractions"):
        parse_fractions(text)


@pytest.mark.parametrize(("count", "fractions", "targets"), [
    (10, (0.8, 0.1, 0.1), [8, 1, 1]),
    (14, (0.8, 0.1, 0.1), [11, 2, 1]),  # exact 11.2, 1.4, 1.4: the tie between valid and test goes to valid
    (3, (0.8, 0.1, 0.1), [3, 0, 0]),  # 2.4, 0.3, 0.3: the largest remainder is train's
    (7, (0.5, 0.25, 0.25), [3, 2, 2]),  # 3.5, 1.75, 1.75: two left over go to the remainders .75, .75
    (5, (0.2, 0.2, 0.6), [1, 1, 3]),
    (0, (0.8, 0.1, 0.1), [0, 0, 0]),
    (9, (0.35, 0.35, 0.3), [3, 3, 3]),  # 3.15, 3.15, 2.7: test has the largest remainder
])
def test_split_targets_largest_remainder(count, fractions, targets):
    assert split_targets(count, fractions) == targets


def test_single_image_groups_hit_every_target_exactly():
    items = [candidate(i, i % 3) for i in range(1, 61)]  # 20 per bin
    split_of = assign_splits(items, (0.7, 0.2, 0.1), seed=0)
    got = Counter((c.bin_index, split_of[c.image_id]) for c in items)
    assert got == Counter({(b, s): n for b in range(3) for s, n in (("train", 14), ("valid", 4), ("test", 2))})


def test_a_group_lands_whole_and_the_others_fill_around_it():
    # bin 0: one group of 5 and 15 singles; 20 images at 0.5/0.25/0.25 -> 10, 5, 5
    items = [candidate(i, 0, group_id=100) for i in range(1, 6)] + [candidate(i, 0) for i in range(6, 21)]
    split_of = assign_splits(items, (0.5, 0.25, 0.25), seed=4)
    assert len({split_of[i] for i in range(1, 6)}) == 1
    assert Counter(split_of.values()) == Counter({"train": 10, "valid": 5, "test": 5})


def test_big_groups_are_placed_first_into_the_split_that_lacks_most():
    # a group of 8 (of 10 images, 0.8/0.1/0.1) must go to train: placed last it would find train full
    items = [candidate(i, 0) for i in (1, 2)] + [candidate(i, 0, group_id=50) for i in range(3, 11)]
    for seed in range(5):
        split_of = assign_splits(items, (0.8, 0.1, 0.1), seed=seed)
        assert {split_of[i] for i in range(3, 11)} == {"train"}
        assert sorted(split_of[i] for i in (1, 2)) == ["test", "valid"]


def test_a_group_spanning_bins_counts_in_each_of_its_bins():
    # group 9 holds one image of bin 0 and one of bin 1; every other image is single.
    items = [candidate(1, 0, 9), candidate(2, 1, 9)] + [candidate(i, i % 2) for i in range(3, 21)]
    split_of = assign_splits(items, (0.8, 0.1, 0.1), seed=1)
    assert split_of[1] == split_of[2]
    got = Counter((c.bin_index, split_of[c.image_id]) for c in items)
    assert got == Counter({(0, "train"): 8, (0, "valid"): 1, (0, "test"): 1,
                           (1, "train"): 8, (1, "valid"): 1, (1, "test"): 1})


def test_splits_depend_on_the_seed_and_not_on_input_order():
    items = [candidate(i, i % 2) for i in range(1, 41)]
    first = assign_splits(items, (0.5, 0.25, 0.25), seed=7)
    assert first == assign_splits(items[::-1], (0.5, 0.25, 0.25), seed=7)
    assert first != assign_splits(items, (0.5, 0.25, 0.25), seed=8)


def test_ties_go_to_the_earlier_split():
    # one image, fractions 1/3 each: every split lacks a third; the tie goes to train
    assert assign_splits([candidate(1, 0)], (1 / 3, 1 / 3, 1 / 3), seed=0) == {1: "train"}


def test_stable_key_orders_by_source_id_then_image_id():
    a, b, c = candidate(5, 0, source_id="A"), candidate(2, 0, source_id="B"), candidate(1, 0, source_id="B")
    assert sorted([a, b, c], key=stable_key) == [a, c, b]
    assert stable_key(a) == ("A", 5)


def _train_rows() -> list[Candidate]:
    # bins 0, 1, 2 with 2, 5 and 3 rows
    return [candidate(i, b) for i, b in enumerate([0, 0, 1, 1, 1, 1, 1, 2, 2, 2], start=1)]


def test_balance_none_sorts_by_bin_then_key():
    rows = balance_train(list(reversed(_train_rows())), "none", seed=0)
    assert [c.image_id for c in rows] == list(range(1, 11))


def test_undersample_cuts_every_bin_to_the_smallest_or_the_cap():
    assert Counter(c.bin_index for c in balance_train(_train_rows(), "undersample", 0)) == {0: 2, 1: 2, 2: 2}
    capped = balance_train(_train_rows(), "undersample", 0, max_per_class=3)
    assert Counter(c.bin_index for c in capped) == {0: 2, 1: 3, 2: 3}
    assert len({c.image_id for c in capped}) == len(capped)  # no repeats
    ids = [c.image_id for c in capped]
    assert ids == sorted(ids)
    assert capped != balance_train(_train_rows(), "undersample", 1, max_per_class=3) or \
        capped != balance_train(_train_rows(), "undersample", 2, max_per_class=3)  # the cut is seeded


def test_oversample_repeats_every_bin_up_to_the_largest_or_the_floor():
    over = balance_train(_train_rows(), "oversample", 0)
    assert Counter(c.bin_index for c in over) == {0: 5, 1: 5, 2: 5}
    per_id = Counter(c.image_id for c in over)
    assert sorted(per_id[i] for i in (1, 2)) == [2, 3]  # 5 of 2 rows: each twice, one a third time
    assert all(per_id[i] == 1 for i in range(3, 8))
    floor = balance_train(_train_rows(), "oversample", 0, min_per_class=4)
    assert Counter(c.bin_index for c in floor) == {0: 4, 1: 5, 2: 4}  # a bin above the floor keeps its rows
    assert [c.bin_index for c in floor] == sorted(c.bin_index for c in floor)


def test_unknown_balance_mode_is_refused():
    with pytest.raises(BadSplitOptions, match=r"^Unknown --balance 'double': expected one of none, undersample, "
                                              r"oversample\.$"):
        balance_train(_train_rows(), "double", 0)


def test_a_group_spanning_bins_is_weighed_by_its_images_in_each_bin():
    # fractions 0.6/0.4/0. Bin 0 holds 1 image (targets 1, 0, 0); bin 1 holds 6 (3.6, 2.4 -> 4, 2, 0).
    # Group 100 (4 images, bin 1) goes first, being larger: lacks 4*4, 2*4, 0 -> train.
    # Group 101 (1 image in bin 0, 2 in bin 1): train lacks 1*1 + 0*2 = 1, valid 0*1 + 2*2 = 4 -> valid.
    items = [candidate(i, 1, group_id=100) for i in range(1, 5)] + [
        candidate(5, 0, group_id=101), candidate(6, 1, group_id=101), candidate(7, 1, group_id=101)]
    for seed in range(3):
        assert assign_splits(items, (0.6, 0.4, 0.0), seed) == {1: "train", 2: "train", 3: "train", 4: "train",
                                                               5: "valid", 6: "valid", 7: "valid"}


def test_a_tie_goes_to_the_earlier_split():
    # 4 images of one bin at 0.5/0.5/0: targets 2, 2, 0. The pair goes first: lacks 2*2, 2*2, 0, a tie -> train;
    # then both singles find train full: valid.
    items = [candidate(1, 0, group_id=9), candidate(2, 0, group_id=9), candidate(3, 0), candidate(4, 0)]
    for seed in range(3):
        assert assign_splits(items, (0.5, 0.5, 0.0), seed) == {1: "train", 2: "train", 3: "valid", 4: "valid"}


def test_splits_follow_source_ids_not_row_ids():
    """A re-crawl gives the same photographs other row (and group) ids; each keeps its split."""
    first = [candidate(i, i % 2, source_id=f"S{i:03d}") for i in range(1, 41)]
    again = [candidate(100 - i, i % 2, source_id=f"S{i:03d}") for i in range(1, 41)]
    by_source = [{c.source_id: split_of[c.image_id] for c in items}
                 for items, split_of in ((first, assign_splits(first, (0.5, 0.25, 0.25), 2)),
                                         (again, assign_splits(again, (0.5, 0.25, 0.25), 2)))]
    assert by_source[0] == by_source[1]


def test_balancing_is_seeded_and_draws_only_where_it_must():
    import random

    rows = _train_rows()  # bins of 2, 5 and 3 rows
    for mode, cap in (("undersample", {"max_per_class": 3}), ("oversample", {"min_per_class": 4})):
        assert balance_train(rows, mode, 5, **cap) == balance_train(rows, mode, 5, **cap)
    # undersampling to 2 draws first for bin 1 (5 rows): bin 0 (2 rows, at the cap) keeps its rows untouched
    bin1 = [c for c in rows if c.bin_index == 1]
    drawn = sorted(random.Random(5).sample(bin1, 2), key=stable_key)
    assert [c for c in balance_train(rows, "undersample", 5, max_per_class=2) if c.bin_index == 1] == drawn
