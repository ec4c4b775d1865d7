"""Crawl throughput and memory on a loopback replica, politeness off.

    .venv/bin/python benchmarks/bench_crawl.py            # 2,000 then 8,000 records
    .venv/bin/python benchmarks/bench_crawl.py --sizes 500

One record = its page and its image. CPU ms/record is the crawl process's user+system time
(interpreter start-up included) per record: unlike wall time, other work on a shared machine
barely moves it. Each size gets a fresh replica server (in a child
process, so its CPU is not the crawler's) and a fresh database, and is crawled by
`cli.py crawl` in a subprocess whose RSS psutil samples every 50 ms. Records/s come from the
crawl's own elapsed time (interpreter start-up excluded; it is shown separately).

The replica synthesises each photograph on request (~20 ms of CPU), which would measure the
replica rather than the crawler; here it serves a pool of pre-rendered JPEG/PNG files, each
made unique per record (a JPEG comment / PNG tEXt chunk carrying the record id), so every
image is still a distinct file to hash, check and store. Pages, listings and faults are the
replica's own. Targets (issue 2): >= 60 records/s, peak RSS < 300 MB, per-record time at
8,000 records within 10% of that at 2,000.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POOL = 64
SAMPLE_S = 0.05


def _unique_image(pool_bytes: bytes, fmt: str, source_id: str) -> bytes:
    tag = source_id.encode()
    if fmt == "PNG":
        chunk_data = b"Comment\x00" + tag
        chunk = struct.pack(">I", len(chunk_data)) + b"tEXt" + chunk_data
        chunk += struct.pack(">I", zlib.crc32(b"tEXt" + chunk_data) & 0xFFFFFFFF)
        return pool_bytes[:33] + chunk + pool_bytes[33:]  # after the 8-byte signature and IHDR
    comment = b"\xff\xfe" + struct.pack(">H", len(tag) + 2) + tag
    return pool_bytes[:2] + comment + pool_bytes[2:]  # right after SOI


def pooled_images(archive) -> None:
    """Make `archive` serve pre-rendered pictures, each made unique per record (see the module docstring)."""
    real = archive.image_bytes
    pools: dict[str, list[bytes]] = {"JPEG": [], "PNG": []}
    wanted = {"JPEG": POOL, "PNG": POOL // 8}
    for record in archive.records:
        pool = pools[record.image_format]
        if not record.faults and record.duplicate_of is None and len(pool) < wanted[record.image_format]:
            pool.append(real(record.source_id))

    def image_bytes(source_id: str) -> bytes | None:
        record = archive.record(source_id)
        if "image_404" in record.faults or "image_html" in record.faults:
            return None
        if "image_truncated" in record.faults:
            return real(source_id)
        fmt = record.image_format if pools[record.image_format] else "JPEG"
        choices = pools[fmt]
        return _unique_image(choices[int(re.sub(r"\D", "", source_id) or 0) % len(choices)], fmt, source_id)

    archive.image_bytes = image_bytes


def _serve(records: int, seed: int, conn) -> None:
    from crawler.replica import ReplicaServer, build_archive

    archive = build_archive(records, seed=seed)
    pooled_images(archive)
    with ReplicaServer(archive) as server:
        conn.send(server.base_url)
        conn.recv()  # until told to stop


def _crawl(base_url: str, workdir: Path, concurrency: int, profile: str = "replica", check: bool = True) -> dict:
    """Run `cli.py crawl` in a subprocess, sampling its RSS; check=False returns a failed crawl's output too."""
    command = [
        sys.executable, str(ROOT / "cli.py"), "crawl", "--profile", profile, "--start-url", base_url,
        "--db", f"sqlite:///{workdir / 'archive.db'}", "--images-dir", str(workdir / "images"),
        "--no-autothrottle", "--delay", "0", "--concurrency", str(concurrency),
    ]
    return measure(command, workdir, check)


def measure(command: list[str], workdir: Path, check: bool = True) -> dict:
    """Run a `cli.py crawl` command; its records, elapsed s (from its summary), wall s, peak RSS MB and CPU s.

    Its stderr goes to `workdir`/stderr.txt; check=False returns a failed crawl's output too.
    """
    started = time.monotonic()
    stderr = open(workdir / "stderr.txt", "w+")  # a file: the progress bar must not fill a pipe nobody reads
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    handle = psutil.Process(process.pid)
    peak, cpu = 0, 0.0
    while process.poll() is None:
        try:
            with handle.oneshot():
                rss = handle.memory_info().rss + sum(c.memory_info().rss for c in handle.children(recursive=True))
                times = handle.cpu_times()
        except psutil.NoSuchProcess:
            break
        peak, cpu = max(peak, rss), times.user + times.system
        time.sleep(SAMPLE_S)
    output = process.stdout.read()
    wall = time.monotonic() - started
    stderr.seek(0)
    errors = stderr.read()
    stderr.close()
    if process.returncode != 0 and check:
        raise SystemExit(f"crawl failed ({process.returncode}):\n{output}{errors[-2000:]}")
    match = re.search(r"finished in ([\d.]+) s: (\d+) records fetched", output)
    elapsed, records = (float(match.group(1)), int(match.group(2))) if match else (wall, 0)
    return {"records": records, "elapsed": elapsed, "wall": wall, "peak_rss_mb": peak / 2**20, "cpu": cpu,
            "summary": output, "error": errors.strip().splitlines()[-1] if process.returncode else None}


def bench(size: int, seed: int, concurrency: int) -> dict:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(size, seed, child), daemon=True)
    server.start()
    base_url = parent.recv()
    try:
        with tempfile.TemporaryDirectory(prefix=f"bench_crawl_{size}_") as tmp:
            result = _crawl(base_url, Path(tmp), concurrency)
    finally:
        parent.send("stop")
        server.join(10)
    result["size"] = size
    result["per_record_ms"] = 1000 * result["elapsed"] / result["records"]
    result["cpu_per_record_ms"] = 1000 * result["cpu"] / result["records"]
    return result


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), load average before the run {load}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,8000", help="comma-separated archive sizes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per domain")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    header = machine()
    results = [bench(size, args.seed, args.concurrency) for size in sizes]
    print(f"Machine: {header}\n")
    print("| records | crawl s | process s | records/s | ms/record | CPU ms/record | peak RSS MB |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for r in results:
        print(f"| {r['records']:,} | {r['elapsed']:.1f} | {r['wall']:.1f} | {r['records'] / r['elapsed']:.1f} | "
              f"{r['per_record_ms']:.2f} | {r['cpu_per_record_ms']:.2f} | {r['peak_rss_mb']:.0f} |")
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(f"\nPer-record time at {last['size']:,} / at {first['size']:,}: "
              f"{last['per_record_ms'] / first['per_record_ms']:.3f} wall-clock, "
              f"{last['cpu_per_record_ms'] / first['cpu_per_record_ms']:.3f} CPU (crawl process, start-up included; "
              "CPU time is the figure a shared machine's load does not move)")
    print(f"\nLoad average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
