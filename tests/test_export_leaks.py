"""Leak-free export, end to end: the replica crawled by the real crawler, near-duplicate chains added, dedupe,
then export; every near-duplicate group must land whole in one split, whatever the seed.

A chain is three crops of one photograph, each shifted 4 px from the last: A~B and B~C are within the dedupe
threshold, A and C are not (distances measured below, asserted before relying on them). A is stored larger, so
dedupe visits it first: B joins A's cluster and is left out of the export, C stays a cluster of its own. A and
C then share only the group, which is what keeps them in one split.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import store_photo
from sqlalchemy import select

from crawler.replica import render_photo
from crawler.run import CrawlConfig, run_crawl
from dataset.dedupe import DedupeConfig, run_dedupe
from dataset.export import ExportConfig, run_export
from db.models import Image, ImageDuplicate, ImageHash, Record
from db.session import make_engine, session_scope

THRESHOLD = 8
SHIFT = 4
# (year, render seed): photographs whose 4-px shifted crops chain (A~B, B~C within 8 bits, A-C over 8).
CHAINS = [(1905, 0), (1905, 1), (1925, 0), (1935, 1)]
SEEDS = range(5)


def chain_photos(year: int, seed: int):
    base = render_photo(year, seed, (240, 160))
    a = base.crop((0, 0, 160, 160)).resize((240, 240))  # more pixels: dedupe's best, visited first
    b = base.crop((SHIFT, 0, SHIFT + 160, 160))
    c = base.crop((2 * SHIFT, 0, 2 * SHIFT + 160, 160))
    return a, b, c


@pytest.fixture(scope="module")
def archive(replica_archive, tmp_path_factory):
    """(engine, URL, replica families, chains): the replica crawled into SQLite plus CHAINS, deduplicated."""
    from crawler.replica import ReplicaServer

    root = tmp_path_factory.mktemp("leaks")
    url = f"sqlite:///{root / 'archive.db'}"
    with ReplicaServer(replica_archive) as server:
        run_crawl(CrawlConfig(profile="replica", start_url=server.base_url, db_url=url, images_dir=str(root / "images"),
                              delay=0, autothrottle=False, concurrency=8, progress=False))
    engine = make_engine(url)
    chains = []
    with session_scope(engine) as session:
        for year, seed in CHAINS:
            ids = [store_photo(session, root / "images", f"CHAIN-{year}-{seed}-{part}", img, str(year), source="chain")
                   for part, img in zip("abc", chain_photos(year, seed), strict=True)]
            chains.append(tuple(ids))
    run_dedupe(engine, DedupeConfig(threshold=THRESHOLD, progress=False))
    with session_scope(engine) as session:
        image_of = dict(session.execute(select(Record.source_id, Image.id).join(Image).where(Image.status == "ok")).all())
    families = defaultdict(set)
    for record in replica_archive.records:
        if record.source_id in image_of:
            families[record.duplicate_of or record.source_id].add(image_of[record.source_id])
    yield engine, url, [f for f in families.values() if len(f) > 1], chains
    engine.dispose()


def _verdicts(engine) -> dict[int, tuple[int, int, bool]]:
    with session_scope(engine) as session:
        return {d.image_id: (d.cluster_id, d.group_id, d.excluded) for d in session.scalars(select(ImageDuplicate))}


def _manifest(url: str, out: Path, seed: int) -> dict[int, str]:
    engine = make_engine(url)
    run_export(engine, ExportConfig(out=out, image_size=16, seed=seed, progress=False), url)
    engine.dispose()
    with (out / "manifest.csv").open(newline="") as handle:
        return {int(row["image_id"]): row["split"] for row in csv.DictReader(handle)}


def test_the_chains_are_chains(archive):
    engine, _, _, chains = archive
    with session_scope(engine) as session:
        hashes = {(h.image_id, h.algorithm): int(h.hash_hex, 16) for h in session.scalars(select(ImageHash))}

    def distance(x: int, y: int) -> int:  # dedupe's "both": the larger of the phash and dhash distances
        return max((hashes[(x, alg)] ^ hashes[(y, alg)]).bit_count() for alg in ("phash", "dhash"))

    verdicts = _verdicts(engine)
    for a, b, c in chains:
        assert distance(a, b) <= THRESHOLD and distance(b, c) <= THRESHOLD < distance(a, c)
        assert verdicts[a] == (a, a, False) and verdicts[b] == (a, a, True)
        assert verdicts[c][0] == c and verdicts[c][1] == a  # its own cluster, A's group


def test_every_duplicate_group_lands_in_one_split(archive, tmp_path):
    engine, url, families, chains = archive
    assert len(families) >= 2, "the replica (60 records, seed 0) should hold known duplicates"
    verdicts = _verdicts(engine)
    groups = defaultdict(set)
    for image_id, (_, group_id, _) in verdicts.items():
        groups[group_id].add(image_id)
    # the replica's known families and the chains are each inside one database group
    for family in [*families, *map(set, chains)]:
        assert len({verdicts[i][1] for i in family}) == 1, family
    excluded = {i for i, (_, _, is_excluded) in verdicts.items() if is_excluded}
    for seed in SEEDS:
        split_of = _manifest(url, tmp_path / f"seed{seed}", seed)
        assert not excluded & set(split_of), "a duplicate left out by dedupe was exported"
        for members in [*groups.values(), *families, *map(set, chains)]:
            exported = members & set(split_of)
            assert len({split_of[i] for i in exported}) <= 1, (seed, sorted(exported), [split_of[i] for i in exported])
        for a, _, c in chains:
            assert a in split_of and c in split_of  # both ends are exported: the group is what binds them
