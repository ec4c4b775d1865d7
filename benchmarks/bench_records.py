"""The web app on a crawled archive: /records latency while and after the archive is dated, and dating speed.

    .venv/bin/python benchmarks/bench_records.py --model runs/demo/lite0-20y --db data/demo/archive.db

Works on a copy of the SQLite file with its stored estimates removed, so the server dates every image
from scratch (`cli.py serve`, default --precompute). Prints a markdown table with the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRESS = re.compile(r"Dated (\d+) of (\d+) photographs")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[float, str]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read().decode()
    return time.perf_counter() - start, body


def wait_until_up(base: str, server: subprocess.Popen, limit_s: float = 120) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}")
        try:
            get(f"{base}/healthz")
            return time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    sys.exit("the server did not answer /healthz in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "runs/demo/lite0-20y")
    parser.add_argument("--db", type=Path, default=ROOT / "data/demo/archive.db", help="a SQLite file (copied)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "archive.db"
        shutil.copy(args.db, db)
        with sqlite3.connect(db) as conn:
            has_estimates = conn.execute("select 1 from sqlite_master where name = 'estimates'").fetchone()
            if has_estimates:
                conn.execute("delete from estimates")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "serve", "--model", str(args.model), "--db", f"sqlite:///{db}",
             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            startup_s = wait_until_up(base, server)
            started = time.perf_counter()
            during, progress = [], None
            while True:
                seconds, body = get(f"{base}/records?sort=disagreement&lang=en")
                match = PROGRESS.search(body)
                if match is None:
                    break
                during.append(seconds)
                progress = (int(match.group(1)), int(match.group(2)))
                time.sleep(1.0)
            dating_s = time.perf_counter() - started
            after = [get(f"{base}/records?sort=disagreement&lang=en&page={page}")[0] for page in (1, 2, 3, 10, 40)]
        finally:
            server.terminate()
            server.wait(timeout=30)
    total = progress[1] if progress else 0
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"model {args.model.name}, archive {args.db} ({total} images to date)\n")
    print("| measure | value |\n|---|---|")
    print(f"| server start to /healthz | {startup_s:.1f} s |")
    print(f"| /records while dating ({len(during)} requests) | median {statistics.median(during) * 1000:.0f} ms, "
          f"max {max(during) * 1000:.0f} ms |" if during else "| /records while dating | (finished before the first request) |")
    print(f"| dating the whole archive | {dating_s:.0f} s ({total / dating_s:.0f} images/s) |")
    print(f"| /records after dating (pages 1, 2, 3, 10, 40) | median {statistics.median(after) * 1000:.0f} ms, "
          f"max {max(after) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
