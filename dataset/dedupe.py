"""Near-duplicate clusters: hash what is new, find close pairs, keep the best picture of each cluster.

Two images are neighbours when their hashes (of the pictures trimmed of borders and mounts) are
within the threshold as they are or, with `transforms` on, after one of the 7 mirrorings and turns
(dataset/orientations.py): the same transform on every algorithm. Byte-identical files (same
sha256) are always neighbours. dataset/clusters.py turns the pairs into clusters without chains,
keeping the upright, untrimmed, biggest picture, and into the groups (`group_id`) the export never
splits. Results replace the previous verdicts in image_duplicates; no image row or file is touched.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from dataset.clusters import Edge, Item, cluster, components, groups, upright_members
from dataset.hashing import ALGORITHMS, HashSummary, compute_missing_hashes, hashes_to_array
from dataset.nearest import pairs_across, pairs_within
from dataset.orientations import ORIENTATIONS, inverse
from db import csvsafe
from db.errors import PipelineError
from db.models import Image, ImageDuplicate, ImageHash, Record
from db.pixels import DEFAULT_MAX_PIXELS
from db.session import session_scope

HASH_CHOICES = ("phash", "dhash", "both")
REPORT_COLUMNS = (
    "cluster_id", "image_id", "role", "distance", "transform", "trimmed", "year_conflict", "record_id", "source", "source_id",
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
    transforms: bool = True  # also match mirrored, flipped and quarter-turned copies (8 orientations; off: hash upright only)
    trim: bool = True  # cut borders, mounts and scanner beds before hashing (off: the whole picture, faster, as phash)


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
    turned: dict[str, int] = field(default_factory=dict)  # transform -> duplicates that match their kept image so
    trimmed: int = 0  # duplicates whose picture or kept picture had borders trimmed before hashing


# Index of the inverse of each orientation, in ORIENTATIONS order.
_INVERSE = np.array([ORIENTATIONS.index(inverse(name)) for name in ORIENTATIONS])


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
                                    max_pixels=config.max_pixels, orientations=config.transforms, trim=config.trim)
    items, arrays, unreadable, unhashed = _load(engine, algorithms, config.transforms)
    if unhashed:  # a crawl stored images while we hashed: hash those too, once; later arrivals wait
        more = compute_missing_hashes(engine, algorithms, workers=config.workers, progress=False,
                                      max_pixels=config.max_pixels, orientations=config.transforms,
                                      trim=config.trim)
        hashes = HashSummary(hashes.hashed + more.hashed, hashes.failed + more.failed, hashes.reused)
        items, arrays, unreadable, unhashed = _load(engine, algorithms, config.transforms)
    index_of = {item.image_id: k for k, item in enumerate(items)}

    edges = _near_pairs(arrays, algorithms, config.threshold)
    edges.update(_exact_pairs(items))
    roots = components(len(items), edges)
    upright = upright_members(items, edges, roots)
    cluster_of, match_of = cluster(items, edges, upright, config.threshold)
    group_of = groups(roots, cluster_of)

    members: dict[int, list[int]] = defaultdict(list)
    for k, item in enumerate(items):
        members[cluster_of[k]].append(item.image_id)
    rows = []
    for k, item in enumerate(items):
        kept_id = cluster_of[k]
        role = "unique" if len(members[kept_id]) == 1 else "kept" if kept_id == item.image_id else "duplicate"
        distance, transform = match_of.get(k, (0, "none")) if role != "unique" else (None, None)
        rows.append({
            "image_id": item.image_id, "cluster_id": kept_id, "group_id": group_of[k],
            "excluded": role == "duplicate", "role": role, "distance": distance, "transform": transform,
            "algorithm": config.hash, "threshold": config.threshold,
        })
    for bad in unreadable:
        rows.append({
            "image_id": bad.image_id, "cluster_id": bad.image_id, "group_id": bad.image_id, "excluded": False,
            "role": "unreadable", "distance": None, "transform": None, "algorithm": config.hash,
            "threshold": config.threshold,
        })
    with session_scope(engine) as session:
        session.execute(delete(ImageDuplicate))
        if rows:
            session.execute(insert(ImageDuplicate), rows)

    multi = {kept: ids for kept, ids in members.items() if len(ids) > 1}
    conflicts = _conflicting_clusters(engine, multi)
    matches = {items[k].image_id: match for k, match in match_of.items()}
    if config.report is not None:
        write_report(engine, config.report, multi, conflicts, matches, {item.image_id: item.trim for item in items})
    excluded = [k for k, item in enumerate(items) if cluster_of[k] != item.image_id]
    return DedupeSummary(
        images=len(items) + len(unreadable), hashed=hashes.hashed, reused_hashes=hashes.reused,
        unreadable=unreadable, pairs=len(edges), clusters=len(multi), excluded=len(excluded),
        exact_excluded=sum(
            1 for k in excluded if items[k].sha256 and items[k].sha256 == items[index_of[cluster_of[k]]].sha256
        ),
        conflicting_clusters=len(conflicts), report=config.report, conflicts=sorted(conflicts),
        left_for_next_run=unhashed,
        turned=dict(Counter(match_of[k][1] for k in excluded if match_of[k][1] != "none")),
        trimmed=sum(1 for k in excluded if items[k].trim or items[index_of[cluster_of[k]]].trim),
    )


def _load(
    engine: Engine, algorithms: tuple[str, ...], transforms: bool
) -> tuple[list[Item], dict[str, np.ndarray], list[ImageUnreadable], list[int]]:
    """Readable items; per algorithm a (orientations, items) uint64 array, row 0 upright, then the variants;
    images that failed to hash; and ids of images with no hash row yet."""
    with session_scope(engine) as session:
        images = session.execute(
            select(Image.id, Image.record_id, Image.sha256, Image.width, Image.height, Image.bytes, Image.path)
            .where(Image.status == "ok", Image.path.is_not(None))
            .order_by(Image.id)
        ).all()
        stored = session.execute(
            select(ImageHash.image_id, ImageHash.algorithm, ImageHash.hash_hex, ImageHash.variants, ImageHash.trim,
                   ImageHash.status, ImageHash.error)
            .where(ImageHash.algorithm.in_(algorithms))
        ).all()
    by_image: dict[int, dict[str, tuple]] = defaultdict(dict)
    for image_id, algorithm, hex_value, variants, trim, status, error in stored:
        by_image[image_id][algorithm] = (hex_value, variants, trim, status, error)
    items, unreadable, unhashed = [], [], []
    hexes: dict[str, list[list[str]]] = {a: [] for a in algorithms}
    orientations = len(ORIENTATIONS) if transforms else 1
    for image_id, record_id, sha, width, height, size, path in images:
        found = by_image.get(image_id, {})
        if any(a not in found for a in algorithms):
            unhashed.append(image_id)
            continue
        failed = [found[a][4] for a in algorithms if found[a][3] != "ok"]
        if failed:
            unreadable.append(ImageUnreadable(image_id, path, failed[0] or "not hashed"))
            continue
        first = found[algorithms[0]]
        items.append(Item(image_id, record_id, sha, (width or 0) * (height or 0), size or 0, first[2]))
        for a in algorithms:
            hex_value, variants = found[a][0], found[a][1] or ""
            hexes[a].append(([hex_value] + variants.split())[:orientations])
    arrays = {
        a: np.stack([hashes_to_array([row[t] for row in hexes[a]]) for t in range(orientations)])
        if items else np.empty((orientations, 0), dtype=np.uint64)
        for a in algorithms
    }
    return items, arrays, unreadable, unhashed


def _near_pairs(arrays: dict[str, np.ndarray], algorithms: tuple[str, ...], threshold: int) -> dict[tuple[int, int], Edge]:
    """{(k1, k2): edge} for item indices k1 < k2 within the threshold on every algorithm, in one orientation.

    Upright only: one search of the upright hashes. With orientations: the upright hash of every item
    is the query, the hashes of every item in all 8 orientations the index (t(a) ~ b), in one search:
    N queries probe the index rather than 7N turned queries (an upright pair is found from both ends,
    but a separate upright search would probe the index twice, which costs more). A turned pair is
    measured both ways, t(a) against b and the inverse of t on b against a (the two differ by a bit or
    two), so that the distance from whichever becomes the kept image is known. A pair found several
    ways keeps the smallest distance, upright first on a tie.
    """
    first = algorithms[0]
    orientations, count = arrays[first].shape
    if count == 0:
        return {}
    if orientations == 1:
        i, j, _ = pairs_within(arrays[first][0], threshold)
        t = np.zeros(len(i), dtype=np.int64)
    else:
        b, found, _ = pairs_across(arrays[first][0], arrays[first].ravel(), threshold)
        a, t = found % count, found // count
        keep = (a != b) & ((t > 0) | (a < b))  # an upright pair is found from both ends: keep one
        i, j, t = a[keep], b[keep], t[keep]
    # Orient every pair as (k1 < k2, turn with turn(k1) ~ k2), then measure it both ways on every algorithm.
    k1, k2, turn = np.minimum(i, j), np.maximum(i, j), np.where(i < j, t, _INVERSE[t])
    forward = np.zeros(len(k1), dtype=np.int64)
    backward = np.zeros(len(k1), dtype=np.int64)
    for algorithm in algorithms:
        hashes = arrays[algorithm]
        forward = np.maximum(forward, np.bitwise_count(hashes[turn, k1] ^ hashes[0, k2]))
        backward = np.maximum(backward, np.bitwise_count(hashes[_INVERSE[turn], k2] ^ hashes[0, k1]))
    best = np.minimum(forward, backward)
    keep = best <= threshold
    edges: dict[tuple[int, int], Edge] = {}
    order = np.lexsort((turn[keep], best[keep]))
    for a, b, ahead, back, name in zip(k1[keep][order].tolist(), k2[keep][order].tolist(), forward[keep][order].tolist(),
                                       backward[keep][order].tolist(), turn[keep][order].tolist(), strict=True):
        if (a, b) not in edges:
            edges[(a, b)] = Edge(ahead, back, ORIENTATIONS[name])
    return edges


def _exact_pairs(items: list[Item]) -> dict[tuple[int, int], Edge]:
    first_with: dict[str, int] = {}
    pairs = {}
    for k, item in enumerate(items):
        if item.sha256 is None:
            continue
        if item.sha256 in first_with:
            pairs[(first_with[item.sha256], k)] = Edge(0, 0, "none")
        else:
            first_with[item.sha256] = k
    return pairs


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
    match_of: dict[int, tuple[int, str]], trim_of: dict[int, str | None],
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
        writer = csvsafe.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for kept in sorted(clusters, key=lambda c: (c not in conflicts, c)):
            for image_id in sorted(clusters[kept], key=lambda i: (i != kept, i)):
                row = info[image_id]
                distance, transform = match_of.get(image_id, (0, "none"))
                writer.writerow([
                    kept, image_id, "kept" if image_id == kept else "duplicate", distance, transform,
                    trim_of.get(image_id) or "", "yes" if kept in conflicts else "no",
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
    if s.turned or s.trimmed:
        turned = ", ".join(f"{name} {s.turned[name]}" for name in ORIENTATIONS if name in s.turned) or "none"
        lines.append(f"Excluded copies matched mirrored or turned: {turned}; "
                     f"matched with borders or mounts trimmed: {s.trimmed}.")
    lines += [f"  unreadable image {bad.image_id} ({bad.path}): {bad.error}" for bad in s.unreadable]
    if s.left_for_next_run:
        n = len(s.left_for_next_run)
        lines.append(f"{n} image{' arrived' if n == 1 else 's arrived'} during this run and "
                     f"{'has' if n == 1 else 'have'} no verdict yet: run 'cli.py dedupe' again.")
    if config.report:
        lines.append(f"Report: {config.report}")
    return "\n".join(lines)
