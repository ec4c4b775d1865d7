"""Dedupe on a crawled replica archive, scored against the replica's ground truth, per kind of duplicate.

    .venv/bin/python benchmarks/dedupe_truth.py --db sqlite:///data/demo/archive.db --records 2000 --seed 0

Run it after `cli.py crawl` of `cli.py replica --records N --seed S` and `cli.py dedupe` (as `make demo`
does). Pairs are scored, not clusters: a planted duplicate is found when it shares a cluster with its
original; a found pair that the replica did not plant is a false merge. The transform dedupe reports
between original and copy is checked against the variant the replica drew.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.replica import build_archive  # noqa: E402
from dataset.orientations import ORIENTATIONS, compose, inverse  # noqa: E402
from db.models import Image, ImageDuplicate, Record  # noqa: E402
from db.session import make_engine, session_scope  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database URL of the crawled replica")
    parser.add_argument("--records", type=int, default=2000, help="records of the replica that was crawled")
    parser.add_argument("--seed", type=int, default=0, help="seed of the replica that was crawled")
    args = parser.parse_args()
    archive = build_archive(args.records, seed=args.seed)
    with session_scope(make_engine(args.db)) as session:
        verdict = {source_id: (cluster, transform) for source_id, cluster, transform in session.execute(
            select(Record.source_id, ImageDuplicate.cluster_id, ImageDuplicate.transform)
            .join(Image, Image.record_id == Record.id).join(ImageDuplicate, ImageDuplicate.image_id == Image.id))}
    found_by_kind, planted_by_kind, wrong_transform = Counter(), Counter(), Counter()
    planted = set()
    for record in archive.records:
        if not record.duplicate_of or record.source_id not in verdict or record.duplicate_of not in verdict:
            continue
        planted.add(frozenset((record.source_id, record.duplicate_of)))
        planted_by_kind[record.variant] += 1
        (cluster, turn), (cluster_original, turn_original) = verdict[record.source_id], verdict[record.duplicate_of]
        if cluster == cluster_original:
            found_by_kind[record.variant] += 1
            expected = record.variant if record.variant in ORIENTATIONS else "none"
            if compose(inverse(turn_original), turn) != expected:
                wrong_transform[record.variant] += 1
    clusters = defaultdict(set)
    for source_id, (cluster, _) in verdict.items():
        clusters[cluster].add(source_id)
    found = {frozenset(p) for members in clusters.values() for p in combinations(sorted(members), 2)}
    # copies of one original are planted pairs with it, and with each other
    families = defaultdict(set)
    for record in archive.records:
        if record.source_id in verdict:
            families[record.duplicate_of or record.source_id].add(record.source_id)
    truth = {frozenset(p) for members in families.values() for p in combinations(sorted(members), 2)}
    print(f"Replica: {args.records} records, seed {args.seed}; {len(verdict)} images judged by dedupe.\n")
    print("| duplicate kind | planted | found | transform wrong |")
    print("|---|---:|---:|---:|")
    for kind in sorted(planted_by_kind):
        print(f"| {kind} | {planted_by_kind[kind]} | {found_by_kind[kind]} | {wrong_transform[kind]} |")
    print(f"| all | {sum(planted_by_kind.values())} | {sum(found_by_kind.values())} | {sum(wrong_transform.values())} |")
    false = found - truth
    print(f"\nPairs found {len(found)}, of which planted {len(found & truth)}; false merges {len(false)}"
          f"{': ' + ', '.join('/'.join(sorted(p)) for p in sorted(false, key=sorted)) if false else ''}.")
    print(f"Precision {len(found & truth) / max(1, len(found)):.3f}, recall {len(found & truth) / max(1, len(truth)):.3f}.")


if __name__ == "__main__":
    main()
