"""Dedupe on the replica archive, harvested by the real crawler: injected duplicates found (resized,
mirrored, turned, mounted), with the transform that matched; no chains."""

from collections import defaultdict
from itertools import combinations

import pytest
from sqlalchemy import select

from crawler.replica import ReplicaServer, build_archive
from crawler.run import CrawlConfig, run_crawl
from dataset.dedupe import DedupeConfig, run_dedupe
from dataset.orientations import ORIENTATIONS, compose, inverse
from db.models import Image, ImageDuplicate, ImageHash, Record
from db.session import make_engine, session_scope

# ~8 injected duplicates (copy, mirror, card, rot90, bed, copy, rot180, flip), 3 of them catalogued with a
# date that contradicts the original; crawls in ~6 s.
RECORDS, SEED, THRESHOLD = 160, 3, 8


@pytest.fixture(scope="module")
def deduped(tmp_path_factory):
    root = tmp_path_factory.mktemp("replica_dedupe")
    archive = build_archive(RECORDS, seed=SEED)
    url = f"sqlite:///{root / 'archive.db'}"
    with ReplicaServer(archive) as server:
        run_crawl(CrawlConfig(profile="replica", start_url=server.base_url, db_url=url, images_dir=str(root / "images"),
                              delay=0, autothrottle=False, concurrency=8, progress=False))
    engine = make_engine(url)
    summary = run_dedupe(engine, DedupeConfig(threshold=THRESHOLD, progress=False))
    yield archive, engine, summary
    engine.dispose()


def pairs(groups) -> set[frozenset]:
    return {frozenset(p) for members in groups for p in combinations(sorted(members), 2)}


@pytest.mark.slow
def test_injected_duplicates_found_with_precision_and_recall_over_095(deduped):
    archive, engine, _ = deduped
    with session_scope(engine) as s:
        stored = dict(s.execute(select(Record.source_id, Image.id).join(Image).where(Image.status == "ok")).all())
        clusters = defaultdict(set)
        for image_id, cluster_id in s.execute(select(ImageDuplicate.image_id, ImageDuplicate.cluster_id)):
            clusters[cluster_id].add(image_id)
    families = defaultdict(set)
    for record in archive.records:
        if record.source_id in stored:
            families[record.duplicate_of or record.source_id].add(stored[record.source_id])
    truth, found = pairs(families.values()), pairs(clusters.values())
    assert len(truth) >= 5 and {r.variant for r in archive.records if r.duplicate_of} >= {"mirror", "rot90", "card", "bed"}
    true_positives = len(truth & found)
    assert true_positives / len(found) >= 0.95
    assert true_positives / len(truth) >= 0.95


@pytest.mark.slow
def test_every_member_is_within_threshold_of_its_kept_image(deduped):
    _, engine, _ = deduped
    with session_scope(engine) as s:
        hashes = {(i, a): [h, *v.split()] for i, a, h, v in s.execute(
            select(ImageHash.image_id, ImageHash.algorithm, ImageHash.hash_hex, ImageHash.variants))}
        rows = s.execute(select(ImageDuplicate.image_id, ImageDuplicate.cluster_id, ImageDuplicate.distance,
                                ImageDuplicate.transform).where(ImageDuplicate.role == "duplicate")).all()
    assert rows
    for image_id, kept, distance, transform in rows:
        # the default hash is "both": within the threshold on phash and on dhash, with the kept image in the
        # same orientation for both; distance is the larger
        t = ORIENTATIONS.index(transform)
        bits = [(int(hashes[(image_id, a)][0], 16) ^ int(hashes[(kept, a)][t], 16)).bit_count() for a in ("phash", "dhash")]
        assert max(bits) == distance <= THRESHOLD


@pytest.mark.slow
def test_clusters_catalogued_with_conflicting_years_are_reported(deduped):
    archive, engine, summary = deduped
    with session_scope(engine) as s:
        by_source = {r.source_id: r for r in s.scalars(select(Record))}
        kept_of = dict(s.execute(
            select(Record.source_id, ImageDuplicate.cluster_id)
            .join(Image, Image.record_id == Record.id).join(ImageDuplicate, ImageDuplicate.image_id == Image.id)
        ).all())
    expected = set()
    for record in archive.records:
        original = record.duplicate_of and by_source.get(record.duplicate_of)
        copy = by_source.get(record.source_id)
        if not original or not copy or record.source_id not in kept_of or None in (copy.year_min, original.year_min):
            continue
        if copy.year_max < original.year_min or original.year_max < copy.year_min:
            expected.add(kept_of[record.source_id])
    assert expected and expected <= set(summary.conflicts)


@pytest.mark.slow
def test_turned_duplicates_carry_the_transform_of_the_ground_truth(deduped):
    archive, engine, _ = deduped
    with session_scope(engine) as s:
        turned = dict(s.execute(select(Record.source_id, ImageDuplicate.transform)
                                .join(Image, Image.record_id == Record.id)
                                .join(ImageDuplicate, ImageDuplicate.image_id == Image.id)).all())
    checked = 0
    for record in archive.records:
        if record.duplicate_of and record.source_id in turned and record.duplicate_of in turned:
            expected = record.variant if record.variant in ORIENTATIONS else "none"
            assert compose(inverse(turned[record.duplicate_of]), turned[record.source_id]) == expected, record.variant
            checked += 1
    assert checked >= 5
