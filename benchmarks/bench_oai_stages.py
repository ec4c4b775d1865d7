"""CPU per record of each stage of a metadata-only OAI-PMH harvest, this tree against an earlier commit.

    .venv/bin/python benchmarks/bench_oai_stages.py --against 0c4b5ff --records 3000 --rounds 3
    .venv/bin/python benchmarks/bench_oai_stages.py --date-cache 4096 --records 20000 --rounds 2

The replica's ListRecords pages (100 records, image links stripped as in bench_oai.py) are fetched
once over loopback; then each stage runs in this process on the same pages, timed with
time.process_time (CPU seconds, so other jobs on the machine matter less than for wall time), the
two versions alternated round by round: parsing (crawler/oai.py parse_list), Dublin Core -> item
(crawler/dublincore.py, crawler/items.py record_item), dates, validation with content hash, and the
store (write_records into a new SQLite file, ten pages per transaction, then the same pages again as a
rerun does). The earlier commit's modules are loaded from `git show`, beside this tree's.
--date-cache N compares this tree with itself using an N-entry cache of db.dates.parse_date instead
(every run starts with an empty cache). The best round of each is printed (the least disturbed by other jobs), with every round's numbers.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import multiprocessing
import re
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
import urllib.request
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_crawl import machine  # noqa: E402
from benchmarks.bench_oai import _serve  # noqa: E402

MODULES = {"oai": "crawler/oai.py", "dublincore": "crawler/dublincore.py", "items": "crawler/items.py",
           "validate": "crawler/pipelines/validate.py", "dates": "crawler/pipelines/dates.py",
           "store": "crawler/pipelines/store.py"}


def pages(records: int) -> list[bytes]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(records, 0, "metadata", child),
                                                         daemon=True)
    server.start()
    base_url = parent.recv()
    bodies, url = [], f"{base_url}/oai?verb=ListRecords&metadataPrefix=oai_dc"
    try:
        while url:
            with urllib.request.urlopen(url) as answer:
                bodies.append(answer.read())
            token = re.search(rb"<resumptionToken[^>]*>([^<]+)<", bodies[-1])
            url = (f"{base_url}/oai?verb=ListRecords&resumptionToken="
                   f"{urllib.parse.quote(html.unescape(token.group(1).decode()))}" if token else None)
    finally:
        parent.send("stop")
        server.join(10)
    return bodies


def load(revision: str | None) -> types.SimpleNamespace:
    """The stage modules of this tree (revision None) or of `revision`, loaded under private names."""
    if revision is None:
        import crawler.dublincore as dublincore
        import crawler.items as items
        import crawler.oai as oai
        import crawler.pipelines.dates as dates
        import crawler.pipelines.store as store
        import crawler.pipelines.validate as validate
        return types.SimpleNamespace(oai=oai, dublincore=dublincore, items=items, validate=validate, dates=dates,
                                     store=store)
    loaded = {}
    folder = Path(tempfile.mkdtemp(prefix="bench_oai_stages_"))
    for name, path in MODULES.items():
        source = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True, capture_output=True,
                                text=True).stdout
        file = folder / f"{name}.py"
        file.write_text(source)
        spec = importlib.util.spec_from_file_location(f"_{revision}_{name}", file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        loaded[name] = module
    return types.SimpleNamespace(**loaded)


def use_date_cache(size: int | None) -> None:
    """db.dates.parse_date with an empty cache of `size` entries (None: the shipped size), wherever it is used."""
    import crawler.dublincore
    import crawler.pipelines.dates
    import db.dates

    shipped = getattr(use_date_cache, "shipped", None) or db.dates.parse_date
    use_date_cache.shipped = shipped
    cached = shipped if size is None else lru_cache(maxsize=size)(shipped.__wrapped__)
    cached.cache_clear()
    db.dates.parse_date = crawler.dublincore.parse_date = crawler.pipelines.dates.parse_date = cached


def run_stages(version: types.SimpleNamespace, bodies: list[bytes], profile) -> dict[str, float]:
    """CPU seconds of each stage over all the pages."""
    from db.session import make_engine

    use_date_cache(getattr(version, "date_cache", None))
    seconds: dict[str, float] = {}
    start = time.process_time()
    lists = [version.oai.parse_list(body) for body in bodies]
    seconds["parse"] = time.process_time() - start
    start = time.process_time()
    batches = []
    for page in lists:
        batch = []
        for record in page.records:
            fields = version.dublincore.dc_fields(record, profile.oai_holder, profile.oai_identifier_prefix)
            fields["source_id"] = " ".join(fields["source_id"].split())  # as crawler/spiders/oai.py does
            values = {"source": profile.source, **fields}
            listed = getattr(version.items, "listed_record", None)  # as the spider builds a list page's records
            batch.append(listed(values) if listed is not None else
                         version.items.record_item(values, normalised=True))
        batches.append(batch)
    seconds["dublin core -> item"] = time.process_time() - start
    start = time.process_time()
    for batch in batches:
        for item in batch:
            version.dates.set_dates(item)
    seconds["dates"] = time.process_time() - start
    start = time.process_time()
    for batch in batches:
        for item in batch:
            version.validate.validate(item, profile.required)
    seconds["validate + content hash"] = time.process_time() - start
    with tempfile.TemporaryDirectory(prefix="bench_oai_stages_db_") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'archive.db'}")
        for label in ("store, new records", "store, the same again"):
            start = time.process_time()
            for first in range(0, len(batches), 10):
                with engine.begin() as connection:
                    for batch in batches[first:first + 10]:
                        version.store.write_records(connection, batch, set())
            seconds[label] = time.process_time() - start
        engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=None, help="an earlier commit to compare with (default: none)")
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--date-cache", type=int, default=None, help="compare with an N-entry parse_date cache")
    args = parser.parse_args()
    from crawler.profile import load_profile

    profile = load_profile("replica")
    bodies = pages(args.records)
    records = args.records
    versions = {"this tree": load(None)}
    if args.against:
        versions[args.against] = load(args.against)
    if args.date_cache:
        versions[f"date cache {args.date_cache:,}"] = types.SimpleNamespace(**vars(versions["this tree"]),
                                                                          date_cache=args.date_cache)
    names = list(versions)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    header = machine()
    for number in range(args.rounds):
        for name in (names if number % 2 == 0 else names[::-1]):  # the order alternates too
            rounds[name].append(run_stages(versions[name], bodies, profile))
    print(f"Before: {header}\nAfter: {machine()}\n")
    print(f"{records:,} records in {len(bodies)} pages, {args.rounds} rounds alternated; CPU us per record, "
          "best round (every round in brackets)\n")
    print("| stage | " + " | ".join(names) + " |\n|:--|" + "--:|" * len(names))
    for stage in rounds[names[0]][0]:
        cells = []
        for name in names:
            values = [1e6 * r[stage] / records for r in rounds[name]]
            cells.append(f"{min(values):.1f} ({', '.join(f'{v:.0f}' for v in values)})")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    totals = [min(1e6 * sum(r.values()) / records for r in rounds[name]) for name in names]
    print("| all stages (store counted twice) | " + " | ".join(f"{t:.1f}" for t in totals) + " |")


if __name__ == "__main__":
    main()
