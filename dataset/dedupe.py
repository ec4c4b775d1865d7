"""Near-duplicate clusters: hash what is new, find close pairs, keep the best picture of each cluster.

Clusters never chain: images are visited best first (most pixels, then largest file, then lowest
id); an unassigned image becomes the kept image of a new cluster and takes every unassigned
neighbour within the threshold, so each member is within the threshold of its kept image and the
kept image is the cluster's best. Byte-identical files (same sha256) are always neighbours.
Connected components of the pair graph become `group_id`, which the export never splits.
Results replace the previous verdicts in image_duplicates; no image row or file is touched.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from dataset.hashing import ALGORITHMS, HashSummary, compute_missing_hashes, hashes_to_array
from dataset.nearest import pairs_within
from db.errors import PipelineError
from db.models import Image, ImageDuplicate, ImageHash, Record
from db.pixels import DEFAULT_MAX_PIXELS
from db.session import session_scope

HASH_CHOICES = ("phash", "dhash", "both")
REPORT_COLUMNS = (
    "cluster_id", "image_id", "role", "distance", "year_conflict", "record_id", "source", "source_id",
    "date_raw", "year", "year_min", "year_max", "width", "height", "bytes", "path",
)


class BadDedupeOptions(PipelineError):
    """Dedupe options out of range."""


@dataclass(frozen=True)
class DedupeConfig:
    hash: str = "both"  # phash | dhash | both (a pair must be within the threshold on both)
    threshold: int = 8  # largest Hamming distance (of 64 bits) between near-duplicates
    workers: int = 1  # hashing processes
    report: Path | None = None  # CSV of duplicate clusters, conflicting years first
    progress: bool = True  # tqdm bar on stderr while hashing
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures are unreadable (db.pixels)


@dataclass(frozen=True)
class ImageUnreadable:
    image_id: int  # images.id
    path: str | None  # the stored file
    error: str  # why it could not be decoded


@dataclass(frozen=True)
class DedupeSummary:
    images: int  # ok images considered
    hashed: int  # hashed in this run
    reused_hashes: int  # already hashed before this run
    unreadable: list[ImageUnreadable]  # could not be decoded; left out of clusters
    pairs: int  # near-duplicate pairs within the threshold (byte-identical pairs included)
    clusters: int  # clusters with more than one member
    excluded: int  # duplicates marked excluded
    exact_excluded: int  # of which byte-identical to their kept image
    conflicting_clusters: int  # clusters whose members' catalogued dates do not overlap
    report: Path | None = None  # where the CSV report went
    conflicts: list[int] = field(default_factory=list)  # cluster ids with conflicting years
    left_for_next_run: list[int] = field(default_factory=list)  # image ids stored (by a crawl) after hashing ended


@dataclass(frozen=True)
class _Item:
    image_id: int
    record_id: int
    sha256: str | None
    pixels: int
    bytes: int


def algorithms_for(choice: str) -> tuple[str, ...]:
    if choice == "both":
        return ("phash", "dhash")
    if choice in ALGORITHMS:
        return (choice,)
    raise BadDedupeOptions(f"Unknown hash {choice!r}: expected one of {', '.join(HASH_CHOICES)}.")


def run_dedupe(engine: Engine, config: DedupeConfig) -> DedupeSummary:
    """Hash new images, cluster near-duplicates, store the verdicts, write the report."""
    if not 0 <= config.threshold <= 32:
        raise BadDedupeOptions(f"--threshold {config.threshold} is out of range: expected 0..32 bits of 64 (default 8).")
    algorithms = algorithms_for(config.hash)
    hashes = compute_missing_hashes(engine, algorithms, workers=config.workers, progress=config.progress,
                                    max_pixels=config.max_pixels)
    items, hash_hex, unreadable, unhashed = _load(engine, algorithms)
    if unhashed:  # a crawl stored images while we hashed: hash those too, once; later arrivals wait
        more = compute_missing_hashes(engine, algorithms, workers=config.workers, progress=False,
                                      max_pixels=config.max_pixels)
        hashes = HashSummary(hashes.hashed + more.hashed, hashes.failed + more.failed, hashes.reused)
        items, hash_hex, unreadable, unhashed = _load(engine, algorithms)
    index_of = {item.image_id: k for k, item in enumerate(items)}

    edges = _near_pairs(items, hash_hex, algorithms, config.threshold)
    edges.update(_exact_pairs(items))
    cluster_of, distance_of = _cluster(items, edges)
    group_of = _components(items, edges, cluster_of)

    members: dict[int, list[int]] = defaultdict(list)
    for k, item in enumerate(items):
        members[cluster_of[k]].append(item.image_id)
    rows = []
    for k, item in enumerate(items):
        kept_id = cluster_of[k]
        role = "unique" if len(members[kept_id]) == 1 else "kept" if kept_id == item.image_id else "duplicate"
        rows.append({
            "image_id": item.image_id, "cluster_id": kept_id, "group_id": group_of[k],
            "excluded": role == "duplicate", "role": role,
            "distance": None if role == "unique" else distance_of.get(k, 0),
            "algorithm": config.hash, "threshold": config.threshold,
        })
    for bad in unreadable:
        rows.append({
            "image_id": bad.image_id, "cluster_id": bad.image_id, "group_id": bad.image_id, "excluded": False,
            "role": "unreadable", "distance": None, "algorithm": config.hash, "threshold": config.threshold,
        })
    with session_scope(engine) as session:
        session.execute(delete(ImageDuplicate))
        if rows:
            session.execute(insert(ImageDuplicate), rows)

    multi = {kept: ids for kept, ids in members.items() if len(ids) > 1}
    conflicts = _conflicting_clusters(engine, multi)
    if config.report is not None:
        write_report(engine, config.report, multi, conflicts, distance_of, index_of)
    excluded = [k for k, item in enumerate(items) if cluster_of[k] != item.image_id]
    return DedupeSummary(
        images=len(items) + len(unreadable), hashed=hashes.hashed, reused_hashes=hashes.reused,
        unreadable=unreadable, pairs=len(edges), clusters=len(multi), excluded=len(excluded),
        exact_excluded=sum(
            1 for k in excluded if items[k].sha256 and items[k].sha256 == items[index_of[cluster_of[k]]].sha256
        ),
        conflicting_clusters=len(conflicts), report=config.report, conflicts=sorted(conflicts),
        left_for_next_run=unhashed,
    )


def _load(
    engine: Engine, algorithms: tuple[str, ...]
) -> tuple[list[_Item], dict[str, list[str]], list[ImageUnreadable], list[int]]:
    """Hashed items, their hashes per algorithm, images that failed to hash, and ids of images with no hash row."""
    with session_scope(engine) as session:
        images = session.execute(
            select(Image.id, Image.record_id, Image.sha256, Image.width, Image.height, Image.bytes, Image.path)
            .where(Image.status == "ok", Image.path.is_not(None))
            .order_by(Image.id)
        ).all()
        stored = session.execute(
            select(ImageHash.image_id, ImageHash.algorithm, ImageHash.hash_hex, ImageHash.status, ImageHash.error)
            .where(ImageHash.algorithm.in_(algorithms))
        ).all()
    by_image: dict[int, dict[str, tuple]] = defaultdict(dict)
    for image_id, algorithm, hex_value, status, error in stored:
        by_image[image_id][algorithm] = (hex_value, status, error)
    items, unreadable, unhashed = [], [], []
    hash_hex: dict[str, list[str]] = {a: [] for a in algorithms}
    for image_id, record_id, sha, width, height, size, path in images:
        found = by_image.get(image_id, {})
        if any(a not in found for a in algorithms):
            unhashed.append(image_id)
            continue
        failed = [found[a][2] for a in algorithms if found[a][1] != "ok"]
        if failed:
            unreadable.append(ImageUnreadable(image_id, path, failed[0] or "not hashed"))
            continue
        items.append(_Item(image_id, record_id, sha, (width or 0) * (height or 0), size or 0))
        for a in algorithms:
            hash_hex[a].append(found[a][0])
    return items, hash_hex, unreadable, unhashed


def _near_pairs(items: list[_Item], hash_hex: dict[str, list[str]], algorithms: tuple[str, ...], threshold: int) -> dict:
    """{(k1, k2): distance} for item indices k1 < k2 within the threshold on every algorithm."""
    if not items:
        return {}
    arrays = {a: hashes_to_array(hash_hex[a]) for a in algorithms}
    first, *others = algorithms
    i, j, d = pairs_within(arrays[first], threshold)
    for other in others:
        d_other = np.bitwise_count(arrays[other][i] ^ arrays[other][j]).astype(np.int64)
        keep = d_other <= threshold
        i, j, d = i[keep], j[keep], np.maximum(d[keep], d_other[keep])
    return {(int(a), int(b)): int(c) for a, b, c in zip(i, j, d, strict=True)}


def _exact_pairs(items: list[_Item]) -> dict:
    first_with: dict[str, int] = {}
    pairs = {}
    for k, item in enumerate(items):
        if item.sha256 is None:
            continue
        if item.sha256 in first_with:
            pairs[(first_with[item.sha256], k)] = 0
        else:
            first_with[item.sha256] = k
    return pairs


def _cluster(items: list[_Item], edges: dict) -> tuple[list[int], dict[int, int]]:
    """Kept image id per item (best first, no chaining) and each member's distance to its kept image."""
    neighbours: dict[int, dict[int, int]] = defaultdict(dict)
    for (a, b), d in edges.items():
        neighbours[a][b] = min(d, neighbours[a].get(b, d))
        neighbours[b][a] = min(d, neighbours[b].get(a, d))
    rank = sorted(range(len(items)), key=lambda k: (-items[k].pixels, -items[k].bytes, items[k].image_id))
    cluster_of: list[int | None] = [None] * len(items)
    distance_of: dict[int, int] = {}
    for k in rank:
        if cluster_of[k] is not None:
            continue
        cluster_of[k] = items[k].image_id
        for other, d in neighbours.get(k, {}).items():
            if cluster_of[other] is None:
                cluster_of[other] = items[k].image_id
                distance_of[other] = d
                distance_of[k] = 0
    return cluster_of, distance_of


def _components(items: list[_Item], edges: dict, cluster_of: list[int]) -> list[int]:
    """Per item, the smallest kept image id in its connected component of the pair graph."""
    parent = list(range(len(items)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    smallest: dict[int, int] = {}
    for k in range(len(items)):
        root = find(k)
        smallest[root] = min(smallest.get(root, cluster_of[k]), cluster_of[k])
    return [smallest[find(k)] for k in range(len(items))]


def _date_range(year: int | None, year_min: int | None, year_max: int | None) -> tuple[int, int] | None:
    lo = year_min if year_min is not None else year
    hi = year_max if year_max is not None else year
    return None if lo is None or hi is None else (lo, hi)


def _conflicting_clusters(engine: Engine, clusters: dict[int, list[int]]) -> set[int]:
    """Clusters whose members' catalogued date ranges do not all overlap."""
    if not clusters:
        return set()
    with session_scope(engine) as session:
        dates = dict(
            (image_id, _date_range(year, lo, hi))
            for image_id, year, lo, hi in session.execute(
                select(Image.id, Record.year, Record.year_min, Record.year_max).join(Record, Image.record_id == Record.id)
            )
        )
    conflicts = set()
    for kept, ids in clusters.items():
        ranges = [dates[i] for i in ids if dates.get(i) is not None]
        if ranges and max(lo for lo, _ in ranges) > min(hi for _, hi in ranges):
            conflicts.add(kept)
    return conflicts


def write_report(
    engine: Engine, path: Path, clusters: dict[int, list[int]], conflicts: set[int],
    distance_of: dict[int, int], index_of: dict[int, int],
) -> None:
    """One row per member of each duplicate cluster; clusters with conflicting years first."""
    with session_scope(engine) as session:
        info = {
            row.image_id: row
            for row in session.execute(
                select(
                    Image.id.label("image_id"), Image.record_id, Record.source, Record.source_id, Record.date_raw,
                    Record.year, Record.year_min, Record.year_max, Image.width, Image.height, Image.bytes, Image.path,
                ).join(Record, Image.record_id == Record.id)
            )
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for kept in sorted(clusters, key=lambda c: (c not in conflicts, c)):
            for image_id in sorted(clusters[kept], key=lambda i: (i != kept, i)):
                row = info[image_id]
                writer.writerow([
                    kept, image_id, "kept" if image_id == kept else "duplicate",
                    distance_of.get(index_of[image_id], 0), "yes" if kept in conflicts else "no",
                    row.record_id, row.source, row.source_id, row.date_raw, row.year, row.year_min, row.year_max,
                    row.width, row.height, row.bytes, row.path,
                ])


def format_summary(s: DedupeSummary, config: DedupeConfig) -> str:
    """The lines `cli.py dedupe` prints: hashing, clusters, unreadable images, the report's path."""
    lines = [
        f"{s.images} images: {s.hashed} hashed now, {s.reused_hashes} reused, {len(s.unreadable)} unreadable.",
        f"{s.pairs} near-duplicate pairs (threshold {config.threshold}) in {s.clusters} clusters: "
        f"{s.excluded} images excluded ({s.exact_excluded} byte-identical); "
        f"{s.conflicting_clusters} clusters with conflicting years.",
    ]
    lines += [f"  unreadable image {bad.image_id} ({bad.path}): {bad.error}" for bad in s.unreadable]
    if s.left_for_next_run:
        n = len(s.left_for_next_run)
        lines.append(f"{n} image{' arrived' if n == 1 else 's arrived'} during this run and "
                     f"{'has' if n == 1 else 'have'} no verdict yet: run 'cli.py dedupe' again.")
    if config.report:
        lines.append(f"Report: {config.report}")
    return "\n".join(lines)
