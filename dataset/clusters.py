"""Near-duplicate clusters from the pairs dedupe found: the keep rule, orientations, no chains, groups.

Clusters never chain: images are visited best first; an unassigned image becomes the kept image of
a new cluster and takes every unassigned neighbour within the threshold, so each member is within
the threshold of its kept image. Best first means: upright and unmirrored (the orientation most
members of its group share; on a tie the one of the member today's rule prefers), then untrimmed
(or least trimmed, in steps of TRIM_STEP of the area), then today's rule: most pixels, largest
file, lowest id. Connected components of the pair graph are the groups the export never splits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from dataset.orientations import compose, inverse

TRIM_STEP = 0.05  # share of a scan's area: trims closer than this count as alike in the keep rule


@dataclass(frozen=True)
class Item:
    """One readable image, as the keep rule sees it."""

    image_id: int  # images.id
    record_id: int  # records.id
    sha256: str | None  # of the stored file: byte-identical files are always neighbours
    pixels: int  # width x height as stored (0 when unknown)
    bytes: int  # file size (0 when unknown)
    trim: str | None  # borders trimmed before hashing (image_hashes.trim)


@dataclass(frozen=True)
class Edge:
    """A near-duplicate pair (first, second): how the second shows the first, and how close, both ways."""

    forward: int  # Hamming distance of t(first picture) to the second (the largest over the algorithms)
    backward: int  # Hamming distance of the inverse of t on the second picture to the first
    transform: str  # orientation t with t(first picture) ~ second picture, for the pair (first, second) it keys


def _todays_rank(item: Item) -> tuple[int, int, int]:
    """The keep rule before orientations: most pixels, then largest file, then lowest id."""
    return (-item.pixels, -item.bytes, item.image_id)


def trimmed_steps(trim: str | None) -> int:
    """How much of the scan was trimmed off, in steps of TRIM_STEP of its area (0: untrimmed), so that
    two copies of a print with its own border tie and today's rule decides between them."""
    if trim is None:
        return 0
    left, top, right, bottom = (float(x) for x in trim.split(","))
    return round((1.0 - (1.0 - left - right) * (1.0 - top - bottom)) / TRIM_STEP)


def components(count: int, edges: dict) -> list[int]:
    """Per item, a representative of its connected component of the pair graph."""
    parent = list(range(count))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(k) for k in range(count)]


def upright_members(items: list[Item], edges: dict[tuple[int, int], Edge], roots: list[int]) -> list[bool]:
    """Per item, whether it shows its group in the group's usual orientation.

    Orientations relative to one member are carried along the pairs (breadth first); the orientation
    most members share counts as upright and unmirrored, and on a tie the one of the member that
    today's keep rule prefers. An archive's copies are mostly scanned the right way round.
    """
    neighbours: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for (a, b), edge in edges.items():
        neighbours[a].append((b, edge.transform))
        neighbours[b].append((a, inverse(edge.transform)))
    orientation: dict[int, str] = {}
    for start in range(len(items)):
        if start in orientation:
            continue
        orientation[start] = "none"
        queue = [start]
        while queue:
            k = queue.pop()
            for other, transform in neighbours.get(k, ()):
                if other not in orientation:
                    orientation[other] = compose(orientation[k], transform)
                    queue.append(other)
    by_group: dict[int, list[int]] = defaultdict(list)
    for k, root in enumerate(roots):
        by_group[root].append(k)
    upright = [True] * len(items)
    for ks in by_group.values():
        votes = Counter(orientation[k] for k in ks)
        best = min(ks, key=lambda k: _todays_rank(items[k]))
        usual = max(votes, key=lambda o: (votes[o], o == orientation[best]))
        for k in ks:
            upright[k] = orientation[k] == usual
    return upright


def cluster(
    items: list[Item], edges: dict[tuple[int, int], Edge], upright: list[bool], threshold: int
) -> tuple[list[int], dict[int, tuple[int, str]]]:
    """Kept image id per item (best first, no chaining); per clustered item, (distance, transform) from its kept image.

    A member joins a kept image only when the kept image, turned as the member shows it, is within the
    threshold of the member (a turned pair measured the other way round may be a bit or two further).
    """
    neighbours: dict[int, dict[int, tuple[int, str]]] = defaultdict(dict)
    for (a, b), edge in edges.items():
        if edge.forward <= threshold:
            neighbours[a][b] = (edge.forward, edge.transform)
        if edge.backward <= threshold:
            neighbours[b][a] = (edge.backward, inverse(edge.transform))
    rank = sorted(range(len(items)), key=lambda k: (not upright[k], trimmed_steps(items[k].trim), *_todays_rank(items[k])))
    cluster_of: list[int | None] = [None] * len(items)
    match_of: dict[int, tuple[int, str]] = {}
    for k in rank:
        if cluster_of[k] is not None:
            continue
        cluster_of[k] = items[k].image_id
        for other, match in neighbours.get(k, {}).items():
            if cluster_of[other] is None:
                cluster_of[other] = items[k].image_id
                match_of[other] = match
                match_of[k] = (0, "none")
    return cluster_of, match_of


def groups(roots: list[int], cluster_of: list[int]) -> list[int]:
    """Per item, the smallest kept image id in its connected component of the pair graph."""
    smallest: dict[int, int] = {}
    for k, root in enumerate(roots):
        smallest[root] = min(smallest.get(root, cluster_of[k]), cluster_of[k])
    return [smallest[root] for root in roots]
