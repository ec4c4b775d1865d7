"""bench_peers.py's OAI-PMH harvest: `cli.py crawl --oai` against a minimal Sickle script.

With --oai-floor a third harvester runs beside them: the Sickle script's work (identifier, title and date
to SQLite, executemany per page) done inside Scrapy with the crawl's own settings and spider middlewares,
the next page asked for first as the crawl does. It is the floor of any harvest built on Scrapy on this
machine: what is left between it and `crawl --oai` is the project's own work per record (the whole
Dublin Core, dates, validation and content hashes, the store's upserts), between it and Sickle Scrapy's.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.peers.common import ROOT, alternate, cpu_seconds, importable, median, run_child


def child_oai_sickle(base_url: str, db_path: str) -> dict:
    """The minimal harvester a user would write: Sickle, then identifier, title, date to SQLite, a page at a time."""
    import resource
    import sqlite3

    from sickle import Sickle

    cpu, start = cpu_seconds(), time.perf_counter()
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE IF NOT EXISTS records (identifier TEXT PRIMARY KEY, title TEXT, date TEXT)")
    page, count = [], 0
    for record in Sickle(base_url).ListRecords(metadataPrefix="oai_dc", ignore_deleted=True):
        metadata = record.metadata
        page.append((record.header.identifier, (metadata.get("title") or [None])[0], (metadata.get("date") or [None])[0]))
        if len(page) == 100:
            db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", page)
            db.commit()
            count, page = count + len(page), []
    db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", page)
    db.commit()
    db.close()
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu, "cpu_process": cpu_seconds(),
            "items": count + len(page), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_oai_scrapy_floor(base_url: str, db_path: str) -> dict:
    """The Sickle script's work inside Scrapy, with the crawl's settings: the floor of a Scrapy harvest."""
    import resource
    import sqlite3

    sys.path.insert(0, str(ROOT))
    import scrapy
    from lxml import etree
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawler.oai import NS, verb_url
    from crawler.spiders.oai import OaiSpider

    title, date = "{http://purl.org/dc/elements/1.1/}title", "{http://purl.org/dc/elements/1.1/}date"
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE IF NOT EXISTS records (identifier TEXT PRIMARY KEY, title TEXT, date TEXT)")
    count = 0

    class Floor(scrapy.Spider):
        name = "oai_floor"
        custom_settings = {name: value for name, value in OaiSpider.custom_settings.items()
                           if not name.startswith("FOTOFECHA_")}

        async def start(self):
            yield scrapy.Request(verb_url(base_url, "ListRecords", metadataPrefix="oai_dc"), dont_filter=True)

        def parse(self, response):
            nonlocal count
            root = etree.fromstring(response.body)
            token = root.findtext("o:ListRecords/o:resumptionToken", namespaces=NS)
            if token:  # the next page first, as the crawl asks for it
                yield scrapy.Request(verb_url(base_url, "ListRecords", resumptionToken=token), dont_filter=True)
            rows = []
            for record in root.iterfind("o:ListRecords/o:record", NS):
                header = record.find("o:header", NS)
                if header.get("status") == "deleted":
                    continue
                rows.append((header.findtext("o:identifier", namespaces=NS), record.findtext(f".//{title}"),
                             record.findtext(f".//{date}")))
            db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", rows)
            db.commit()
            count += len(rows)

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict({"ITEM_PIPELINES": {}, "LOG_LEVEL": "WARNING", "AUTOTHROTTLE_ENABLED": False,
                      "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "CONCURRENT_REQUESTS": 32},
                     priority="cmdline")
    process = CrawlerProcess(settings, install_root_handler=False)
    cpu, start = cpu_seconds(), time.perf_counter()
    process.crawl(Floor)
    process.start()
    db.close()
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu, "cpu_process": cpu_seconds(),
            "items": count, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _serve_metadata(records: int, conn) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_oai import _serve

    _serve(records, 0, "metadata", conn)


def compare_oai(args, lines: list[str]) -> None:
    """Both harvesters against one replica per size, alternated; the replica is built before the first round."""
    missing = importable(args.peers_python, "sickle")
    sizes = ", ".join(f"{n:,}" for n in args.oai_sizes)
    lines += [f"## OAI-PMH metadata harvest, {sizes} records from the loopback replica", ""]
    if missing:
        lines += [f"Sickle not importable ({missing}): only fotofecha measured.", ""]
    lines += ["| records | tool | harvest s | records/s | whole process s | CPU ms/record (harvest) | "
              "CPU ms/record (process) | peak RSS MB | Sickle / tool, harvest (median of rounds) |",
              "|--:|:--|--:|--:|--:|--:|--:|--:|--:|"]
    for size in args.oai_sizes:
        lines += _oai_rows(args, size, missing)
    lines += ["", "Harvest s: fotofecha's from its own summary (start-up excluded), Sickle's timed inside its "
              "process after its imports. CPU (harvest): Sickle's after its imports (fotofecha's harvest alone is not "
              "measured apart from its start-up: see CPU (process), start-up included for both). The replica "
              "server runs beside them on the same cores. The ratio is the median over rounds of Sickle's harvest s "
              "over fotofecha's in the same round (above 1: fotofecha is faster).", ""]


def _oai_rows(args, size: int, missing: str | None) -> list[str]:
    import multiprocessing

    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_crawl import measure

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve_metadata, args=(size, child), daemon=True)
    server.start()
    base_url = parent.recv()

    def fotofecha() -> dict:
        with tempfile.TemporaryDirectory(prefix="bench_peers_oai_") as tmp:
            result = measure([sys.executable, str(ROOT / "cli.py"), "crawl", "--profile", "replica", "--oai",
                              f"{base_url}/oai", "--db", f"sqlite:///{Path(tmp) / 'archive.db'}", "--images-dir",
                              str(Path(tmp) / "images"), "--no-autothrottle", "--delay", "0", "--concurrency", "16"],
                             Path(tmp))
        return {"wall": result["elapsed"], "process": result["wall"], "cpu_process": result["cpu"],
                "items": result["records"], "peak_rss_mb": result["peak_rss_mb"]}

    def sickle() -> dict:
        with tempfile.TemporaryDirectory(prefix="bench_peers_sickle_") as tmp:
            started = time.perf_counter()
            result = run_child(args.peers_python, "oai-sickle", f"{base_url}/oai", str(Path(tmp) / "records.db"))
            result["process"] = time.perf_counter() - started
        return result

    def floor() -> dict:
        with tempfile.TemporaryDirectory(prefix="bench_peers_floor_") as tmp:
            started = time.perf_counter()
            result = run_child(Path(sys.executable), "oai-scrapy-floor", f"{base_url}/oai", str(Path(tmp) / "records.db"))
            result["process"] = time.perf_counter() - started
        return result

    runs = {"fotofecha cli.py crawl --oai": fotofecha}
    if not missing:
        runs["Sickle + sqlite3 executemany per page"] = sickle
    if getattr(args, "oai_floor", False):
        runs[FLOOR] = floor
    try:
        results = alternate(args.rounds, runs)
    finally:
        parent.send("stop")
        server.join(10)
    rows = []
    peer = results.get("Sickle + sqlite3 executemany per page")
    for tool, rs in results.items():
        if any("error" in r for r in rs):
            raise SystemExit(f"a harvest failed: {tool}: {rs[0].get('error')}")
        items, wall = rs[0]["items"], median(rs, "wall")
        ratio = f"{statistics.median(p['wall'] / r['wall'] for p, r in zip(peer, rs, strict=True)):.2f}x" if peer else "-"
        harvest_cpu = f"{1000 * median(rs, 'cpu') / items:.3f}" if "cpu" in rs[0] else "-"
        rows.append(f"| {items:,} | {tool} | {wall:.1f} | {items / wall:,.0f} | {median(rs, 'process'):.1f} | "
                    f"{harvest_cpu} | {1000 * median(rs, 'cpu_process') / items:.3f} | {max(r['peak_rss_mb'] for r in rs):.0f} | "
                    f"{ratio} |")
    return rows


FLOOR = "floor: the Sickle script's work inside Scrapy (crawl settings)"
CHILDREN = {"oai-sickle": child_oai_sickle, "oai-scrapy-floor": child_oai_scrapy_floor}
