"""Replica archive speed: render time per photo, archive build time, and served records per second.

    .venv/bin/python benchmarks/bench_replica.py [--records 2000] [--renders 300] [--clients 4]

One served record = its record page plus its image, fetched over keep-alive HTTP/1.1 from
`--clients` threads of this process from a `cli.py replica` subprocess. "cold" renders and
encodes every image on first request; "warm" serves them from the cache.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.replica import build_archive, render_photo  # noqa: E402


def bench_render(count: int) -> None:
    render_photo(1900, 0)  # warm caches (grain tile, grids)
    times = []
    cpu_start = time.process_time()
    for k in range(count):
        start = time.perf_counter()
        render_photo(1860 + k % 130, k)
        times.append(time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu_start) / count * 1000
    ms = [t * 1000 for t in times]
    # CPU time is the number to compare across runs on a shared machine; wall time includes waiting.
    print(f"render_photo 320x240: CPU {cpu_ms:.2f} ms; wall mean {statistics.mean(ms):.2f} ms, "
          f"median {statistics.median(ms):.2f} ms, p95 {sorted(ms)[int(len(ms) * 0.95)]:.2f} ms over {count} photos")


def bench_build(records: int) -> None:
    start = time.perf_counter()
    build_archive(records, seed=0)
    print(f"build_archive({records}): {time.perf_counter() - start:.3f} s")


def _fetch_records(host: str, port: int, paths: list[tuple[str, str]], clients: int) -> float:
    """Fetch (page, image) pairs from `clients` threads; returns records per second."""
    chunks = [paths[i::clients] for i in range(clients)]

    def worker(chunk: list[tuple[str, str]]) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        for page, image in chunk:
            for path in (page, image):
                conn.request("GET", path)
                conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(paths) / (time.perf_counter() - start)


def bench_serve(records: int, clients: int) -> None:
    """The server runs as `cli.py replica` in its own process, as a crawl benchmark would run it:
    in the client's process both would fight over one GIL."""
    archive = build_archive(records, seed=0)
    paths = [(r.page_path, r.image_path) for r in archive.records if not r.faults]
    with tempfile.TemporaryDirectory() as tmp:
        url_file = Path(tmp) / "replica.url"
        command = [sys.executable, str(ROOT / "cli.py"), "replica", "--records", str(records), "--url-file", str(url_file)]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not url_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("cli.py replica did not start")
                time.sleep(0.05)
            url = urlsplit(url_file.read_text().strip())
            cold = _fetch_records(url.hostname, url.port, paths, clients)
            warm = _fetch_records(url.hostname, url.port, paths[-400:], clients)  # still in the image cache
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
    print(f"served {len(paths)} records (page + image), {clients} keep-alive clients: "
          f"cold {cold:.0f} records/s (images rendered on first request), warm {warm:.0f} records/s (cached)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--renders", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    bench_render(args.renders)
    bench_build(args.records)
    bench_build(8000)
    bench_serve(args.records, args.clients)


if __name__ == "__main__":
    main()
