"""OAI-PMH harvest throughput and memory on a loopback replica, politeness off.

    .venv/bin/python benchmarks/bench_oai.py                     # 5,000 then 20,000 records
    .venv/bin/python benchmarks/bench_oai.py --sizes 2000 --modes metadata

Two modes: "metadata" harvests records whose Dublin Core carries no image link (the replica's
oai_dc with its picture URLs stripped), so it measures paging, XML parsing, Dublin Core
mapping, dates and the database; "images" harvests the replica's own oai_dc and fetches every
picture (pre-rendered and made unique per record as in bench_crawl.py; IIIF records go through
their manifest and info.json). ListRecords pages hold 100 records (DSpace's default); the
replica's one-off 503 and badResumptionToken faults are off, so the numbers are the harvester's.
Each run is `cli.py crawl --oai` in a subprocess whose RSS psutil samples every 50 ms; the replica
server's CPU time while it serves the harvest is reported too (on one machine it shares the cores).
Target (issue 9): >= 500 records/s metadata-only; peak RSS flat as the archive grows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_crawl import machine, measure, pooled_images  # noqa: E402

_IMAGE_LINK = re.compile(r"<dc:(identifier|relation)>[^<]*/(?:media|iiif)/[^<]*</dc:\1>")


def _serve(records: int, seed: int, mode: str, conn) -> None:
    import crawler.replica.oai as oai
    from crawler.replica import ReplicaServer, build_archive

    archive = build_archive(records, seed=seed)
    if mode == "metadata":
        with_images = oai.dublin_core
        oai.dublin_core = lambda *args: _IMAGE_LINK.sub("", with_images(*args))
    else:
        pooled_images(archive)
    with ReplicaServer(archive, oai_page_size=100, oai_faults=False) as server:
        conn.send(server.base_url)
        conn.recv()  # until told to stop


def bench(size: int, seed: int, mode: str, concurrency: int) -> dict:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(size, seed, mode, child), daemon=True)
    server.start()
    base_url = parent.recv()
    serving = psutil.Process(server.pid)
    served_before = serving.cpu_times()  # the archive is built by now: what follows is serving it
    try:
        with tempfile.TemporaryDirectory(prefix=f"bench_oai_{size}_") as tmp:
            workdir = Path(tmp)
            result = measure([
                sys.executable, str(ROOT / "cli.py"), "crawl", "--profile", "replica", "--oai", f"{base_url}/oai",
                "--db", f"sqlite:///{workdir / 'archive.db'}", "--images-dir", str(workdir / "images"),
                "--no-autothrottle", "--delay", "0", "--concurrency", str(concurrency),
            ], workdir)
        served = serving.cpu_times()
    finally:
        parent.send("stop")
        server.join(10)
    result.update(size=size, mode=mode, server_cpu=served.user + served.system - served_before.user - served_before.system)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000", help="comma-separated archive sizes")
    parser.add_argument("--modes", default="metadata,images", help="metadata, images or both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per domain")
    args = parser.parse_args()
    header = machine()
    results = [bench(size, args.seed, mode, args.concurrency)
               for mode in args.modes.split(",") for size in (int(s) for s in args.sizes.split(","))]
    print(f"Machine: {header}\n")
    print("| mode | records | harvest s | process s | records/s | CPU ms/record | replica CPU ms/record | peak RSS MB |")
    print("|:--|--:|--:|--:|--:|--:|--:|--:|")
    for r in results:
        print(f"| {r['mode']} | {r['records']:,} | {r['elapsed']:.1f} | {r['wall']:.1f} | "
              f"{r['records'] / r['elapsed']:.1f} | {1000 * r['cpu'] / r['records']:.2f} | "
              f"{1000 * r['server_cpu'] / r['records']:.2f} | {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
