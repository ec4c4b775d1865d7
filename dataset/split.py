"""Stratified, group-aware splits and train-only balancing. Pure functions of their inputs and a seed.

Each bin's images are divided train/valid/test by largest-remainder rounding of the fractions;
near-duplicate groups are placed whole (largest first, then in seeded random order) into the split
whose bins most lack images, so with single-image groups every split hits its target exactly.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from dataset.catalog import Candidate
from db.errors import PipelineError

SPLITS = ("train", "valid", "test")
BALANCE_MODES = ("none", "undersample", "oversample")


class BadSplitOptions(PipelineError):
    """Split or balance options that cannot be honoured."""


def stable_key(c: Candidate) -> tuple[str, int]:
    """Order by the archive's own identifier, so a re-crawl (new row ids, same archive) splits alike."""
    return (c.source_id, c.image_id)


def parse_fractions(text: str) -> tuple[float, float, float]:
    """"0.8,0.1,0.1" -> (0.8, 0.1, 0.1); the three must be >= 0 and sum to 1."""
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(p < 0 for p in parts) or not math.isclose(sum(parts), 1.0, abs_tol=1e-6):
        raise BadSplitOptions(f"Cannot use --splits {text!r}: expected three fractions train,valid,test summing to 1, e.g. 0.8,0.1,0.1.")
    return parts  # type: ignore[return-value]


def split_targets(count: int, fractions: Sequence[float]) -> list[int]:
    """Largest-remainder rounding: integers summing to `count`, each within one of count * fraction."""
    exact = [count * f for f in fractions]
    targets = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda s: (-(exact[s] - targets[s]), s))
    for s in by_remainder[: count - sum(targets)]:
        targets[s] += 1
    return targets


def assign_splits(items: Sequence[Candidate], fractions: Sequence[float], seed: int) -> dict[int, str]:
    """image_id -> split; every group_id lands whole in one split."""
    return {image_id: SPLITS[s] for image_id, s in assign_groups(items, fractions, seed).items()}


def assign_groups(items: Sequence[Candidate], fractions: Sequence[float], seed: int) -> dict[int, int]:
    """image_id -> index into `fractions` (splits, or K equal cross-validation folds), stratified by bin.

    Every group_id lands whole in one part. `items` need image_id, source_id, bin_index and group_id
    (a Candidate, or a manifest row).
    """
    ordered = sorted(items, key=stable_key)
    parts = assign_parts([c.bin_index for c in ordered], [c.group_id for c in ordered], fractions, seed)
    return {c.image_id: part for c, part in zip(ordered, parts, strict=True)}


def assign_parts(bin_of: Sequence[int], group_of: Sequence[int], fractions: Sequence[float], seed: int) -> list[int]:
    """assign_groups on plain columns: the bin and group of each image, given in stable_key order; returns each
    image's part, in the same order. No object per image: export splits a million pictures with it.

    Groups are placed largest first, ties in a seeded shuffle of their order of first appearance (that is, of
    their smallest stable_key), each into the part whose bins most lack images.
    """
    parts = range(len(fractions))
    per_bin = Counter(bin_of)
    target = {b: split_targets(n, fractions) for b, n in per_bin.items()}
    assigned: dict[int, list[int]] = {b: [0] * len(fractions) for b in per_bin}
    groups, first, inverse, counts = np.unique(np.asarray(group_of, dtype=np.int64), return_index=True,
                                               return_inverse=True, return_counts=True)
    appearance = np.argsort(first, kind="stable")  # groups by their first member's position
    rank = np.empty_like(appearance)
    rank[appearance] = np.arange(len(groups))
    group_index = rank[inverse.reshape(-1)]  # each position's group, numbered by first appearance
    size = counts[appearance].tolist()  # members per group
    lone = first[appearance].tolist()  # each group's first member: a one-image group's only one
    members = np.argsort(group_index, kind="stable")  # positions grouped, each group's in order
    start = np.concatenate(([0], np.cumsum(counts[appearance])[:-1])).tolist()
    del groups, first, inverse, counts, appearance, rank
    order = list(range(len(size)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda g: -size[g])  # stable: big groups first, ties in seeded order
    part_of_group = [0] * len(size)
    for g in order:
        if size[g] == 1:  # most groups: the part whose bin lacks most, the first on a tie (no key tuples)
            b = bin_of[lone[g]]
            wanted, have = target[b], assigned[b]
            best, most = 0, wanted[0] - have[0]
            for s in parts:
                if wanted[s] - have[s] > most:
                    best, most = s, wanted[s] - have[s]
            have[best] += 1
        else:
            bins_here = Counter(bin_of[p] for p in members[start[g]:start[g] + size[g]].tolist())
            lack = [sum((target[b][s] - assigned[b][s]) * n for b, n in bins_here.items()) for s in parts]
            best = max(parts, key=lambda s: (lack[s], -s))
            for b, n in bins_here.items():
                assigned[b][best] += n
        part_of_group[g] = best
    return np.array(part_of_group, dtype=np.int64)[group_index].tolist()


def balance_train(
    rows: Sequence[Candidate], mode: str, seed: int, min_per_class: int | None = None, max_per_class: int | None = None
) -> list[Candidate]:
    """Train rows after balancing, sorted by bin, then stable_key; oversampling repeats rows.

    undersample: every bin cut to --max-per-class (default: the smallest non-empty bin).
    oversample: every non-empty bin repeated up to --min-per-class (default: the largest bin).
    """
    ordered = sorted(rows, key=stable_key)
    return [ordered[p] for p in balance_positions([c.bin_index for c in ordered], mode, seed, min_per_class,
                                                  max_per_class)]


def balance_positions(bin_of: Sequence[int], mode: str, seed: int, min_per_class: int | None = None,
                      max_per_class: int | None = None) -> list[int]:
    """balance_train on one column: each train image's bin, in stable_key order; returns the positions kept (or
    repeated), by bin, then position. The same seed draws the same images as balance_train."""
    if mode not in BALANCE_MODES:
        raise BadSplitOptions(f"Unknown --balance {mode!r}: expected one of {', '.join(BALANCE_MODES)}.")
    by_bin: dict[int, list[int]] = defaultdict(list)
    for position, b in enumerate(bin_of):
        by_bin[b].append(position)
    rng = random.Random(seed)
    result: list[int] = []
    sizes = [len(v) for v in by_bin.values()]
    for b in sorted(by_bin):
        members = by_bin[b]
        if mode == "undersample":
            cap = max_per_class if max_per_class is not None else min(sizes)
            chosen = rng.sample(members, cap) if len(members) > cap else members
            result.extend(sorted(chosen))
        elif mode == "oversample":
            goal = min_per_class if min_per_class is not None else max(sizes)
            full, extra = divmod(max(goal, len(members)), len(members))
            result.extend(sorted(members * full + rng.sample(members, extra)))
        else:
            result.extend(members)
    return result
