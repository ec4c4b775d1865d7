"""Where a metadata-only OAI-PMH harvest spends its time: py-spy samples of `cli.py crawl --oai`.

    .venv/bin/python benchmarks/profile_oai.py --size 20000

The replica and the crawl are bench_oai.py's (metadata mode, politeness off). py-spy (a dev extra)
samples every thread of the crawl process 200 times a second; the shares printed are of all samples,
grouped by the frame they pass through (a sample counts in every group on its stack, so the groups
overlap: "items through ... the pipelines" holds "store"). The replica's CPU time is measured beside it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_crawl import machine, measure  # noqa: E402
from benchmarks.bench_oai import _serve  # noqa: E402

# group -> a frame (function and file, as py-spy writes it) that every sample of the group passes through, or
# several that each such sample passes through
GROUPS = {
    "main thread (start-up imports, then the progress bar)": "<module> (cli.py",
    "reactor thread (the harvest)": "_run_reactor (crawler/reactor.py",
    "spider: ListRecords page -> items": "parse_records (crawler/spiders/oai.py",
    "  XML parsing (crawler/oai.py parse_list)": "parse_list (crawler/oai.py",
    "  Dublin Core -> item (dc_fields, record_item)": "_record_item (crawler/spiders/oai.py",
    "items through Scrapy's scraper and the pipelines": "Scraper.start_itemproc_async",
    "  validate (content_hash, required fields)": "ValidatePipeline.process_item",
    "  dates": "DatePipeline.process_item",
    "  store on the reactor (holding a batch, handing it over)": "StorePipeline.process_item",
    "store writer thread (beside the reactor; SQLite's work outside the GIL)": "StoreWriter._run (crawler/pipelines/writer.py",
    "  writer waiting for a batch": ("StoreWriter._run (crawler/pipelines/writer.py", "Queue.get (queue.py"),
    "downloader (HTTP on loopback)": "Downloader._download",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000, help="records in the replica")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=0, help="also list the N frames with most self and inclusive time")
    parser.add_argument("--samples", type=Path, default=None, help="keep py-spy's raw samples in this file")
    args = parser.parse_args()
    header = machine()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(args.size, args.seed, "metadata", child),
                                                         daemon=True)
    server.start()
    base_url = parent.recv()
    serving = psutil.Process(server.pid)
    served_before = serving.cpu_times()
    try:
        with tempfile.TemporaryDirectory(prefix="profile_oai_") as tmp:
            workdir = Path(tmp)
            samples = workdir / "samples.txt"
            result = measure([
                str(Path(sys.executable).parent / "py-spy"), "record", "--rate", "200", "--format", "raw",
                "--output", str(samples), "--", sys.executable, str(ROOT / "cli.py"), "crawl", "--profile", "replica",
                "--oai", f"{base_url}/oai", "--db", f"sqlite:///{workdir / 'archive.db'}",
                "--images-dir", str(workdir / "images"), "--no-autothrottle", "--delay", "0", "--concurrency", "16",
            ], workdir)
            stacks = [line.rstrip().rpartition(" ") for line in samples.read_text().splitlines() if line.strip()]
            if args.samples:
                args.samples.write_text(samples.read_text())
        served = serving.cpu_times()
    finally:
        parent.send("stop")
        server.join(10)
    total = sum(int(count) for _, _, count in stacks)
    print(f"Machine: {header}\n")
    print(f"{result['records']:,} records in {result['elapsed']:.1f} s ({result['records'] / result['elapsed']:.0f}/s "
          f"under py-spy); replica CPU {served.user + served.system - served_before.user - served_before.system:.2f} s; "
          f"{total:,} samples\n")
    print("| where | share of samples |\n|:--|--:|")
    for group, frames in GROUPS.items():
        frames = (frames,) if isinstance(frames, str) else frames
        count = sum(int(n) for stack, _, n in stacks if all(frame in stack for frame in frames))
        print(f"| {group} | {100 * count / total:.1f}% |")
    if args.top:
        print_top(stacks, total, args.top)


def print_top(stacks: list[tuple[str, str, str]], total: int, top: int) -> None:
    """The frames with the most samples on top of the stack (self) and anywhere in it (inclusive)."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for stack, _, count in stacks:
        frames = stack.split(";")
        own[frames[-1]] += int(count)
        for frame in set(frames):
            anywhere[frame] += int(count)
    for title, counter in (("self", own), ("inclusive", anywhere)):
        print(f"\n| frame ({title}) | share of samples |\n|:--|--:|")
        for frame, count in counter.most_common(top):
            print(f"| `{frame[:110]}` | {100 * count / total:.1f}% |")


if __name__ == "__main__":
    main()
