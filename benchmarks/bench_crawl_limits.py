"""Memory of a crawl that meets huge listing pages, with the profile's page cap and without it.

    .venv/bin/python benchmarks/bench_crawl_limits.py              # 50 MB listing pages
    .venv/bin/python benchmarks/bench_crawl_limits.py --page-mb 20

A replica (in a child process, so its own copy of the pages is not counted) pads every listing
page with an HTML comment to --page-mb. `cli.py crawl` runs against it twice, in a subprocess
whose RSS (children included) psutil samples every 50 ms: once with the replica profile as
shipped (pages capped at [limits] max_page_mb = 8) and once with the cap raised to 64 MB,
which is what the crawl did before pages had their own cap (Scrapy's DOWNLOAD_MAXSIZE, 64 MB,
applied to everything). Issue 10 measured 474 MB RSS for one 50 MB listing page.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_crawl import _crawl, machine  # noqa: E402

MB = 1024 * 1024


def _serve(records: int, page_mb: float, conn) -> None:
    from crawler.replica import ReplicaServer, build_archive

    with ReplicaServer(build_archive(records), listing_padding=int(page_mb * MB)) as server:
        conn.send(server.base_url)
        conn.recv()  # until told to stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page-mb", type=float, default=50.0, help="size of every listing page, in MB")
    parser.add_argument("--records", type=int, default=60, help="records in the replica (24 per listing page)")
    args = parser.parse_args()
    header = machine()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(args.records, args.page_mb, child),
                                                          daemon=True)
    server.start()
    base_url = parent.recv()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench_crawl_limits_") as tmp:
            shipped = (ROOT / "crawler" / "profiles" / "replica.toml").read_text(encoding="utf-8")
            uncapped = Path(tmp) / "uncapped.toml"
            uncapped.write_text(shipped + "\n[limits]\nmax_page_mb = 64\n", encoding="utf-8")
            for label, profile in (("max_page_mb = 8 (shipped)", "replica"), ("max_page_mb = 64 (as before)", str(uncapped))):
                workdir = Path(tmp) / str(len(rows))
                workdir.mkdir()
                rows.append((label, _crawl(base_url, workdir, concurrency=4, profile=profile, check=False)))
    finally:
        parent.send("stop")
        server.join(10)
    print(f"Machine: {header}\n")
    print(f"Listing pages of {args.page_mb:g} MB, {args.records} records.\n")
    print("| page cap | records | process s | peak RSS MB | outcome |")
    print("|--|--:|--:|--:|--|")
    for label, r in rows:
        outcome = (r["error"] or r["summary"].splitlines()[0])[:140]
        print(f"| {label} | {r['records']} | {r['wall']:.1f} | {r['peak_rss_mb']:.0f} | {outcome} |")
    print(f"\nLoad average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
