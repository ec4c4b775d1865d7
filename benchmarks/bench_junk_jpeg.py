"""CPU-seconds to refuse a junk file that starts like a JPEG: db.pixels.open_image against Pillow alone.

    .venv/bin/python benchmarks/bench_junk_jpeg.py            # 200 MB of junk, 3 alternated rounds
    .venv/bin/python benchmarks/bench_junk_jpeg.py --mb 50 --rounds 5 --out benchmarks/results/bench_junk_jpeg.md

The file is a JFIF marker followed by zero bytes, written to a temporary folder and opened from
disk as `cli.py import` and dedupe open it. Pillow alone (PIL.Image.open) scans the junk one byte at
a time for a frame header; open_image walks the JPEG segments first and refuses the file after
JPEG_JUNK_LIMIT (64 KB) of junk. Rounds alternate the two, and each is timed in process CPU time,
so other jobs on the machine count less than in wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, UnidentifiedImageError  # noqa: E402

from benchmarks.bench_crawl import machine  # noqa: E402
from db.pixels import JPEG_JUNK_LIMIT, open_image  # noqa: E402

JFIF = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def cpu_seconds(opener, path: Path) -> float:
    started = time.process_time()
    try:
        opener(path)
    except UnidentifiedImageError:
        pass
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the junk file in MB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    args = parser.parse_args()
    header = machine()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.jpg"
        with path.open("wb") as handle:
            handle.write(JFIF)
            for _ in range(args.mb):
                handle.write(b"\x00" * (1024 * 1024))
        pillow, guarded = [], []
        for _ in range(args.rounds):
            pillow.append(cpu_seconds(lambda p: Image.open(p), path))
            guarded.append(cpu_seconds(lambda p: open_image(p, 10**9), path))
    lines = [
        f"# Refusing a {args.mb} MB junk file that starts like a JPEG",
        "",
        f"Machine: {header}. Other engineers' jobs were running; times are process CPU-seconds,",
        f"{args.rounds} rounds alternating the two.",
        "",
        "| opener | CPU s per file (each round) | median |",
        "|---|---|---|",
        f"| PIL.Image.open alone | {', '.join(f'{t:.3f}' for t in pillow)} | {sorted(pillow)[len(pillow) // 2]:.3f} |",
        f"| db.pixels.open_image (refuses after {JPEG_JUNK_LIMIT // 1024} KB of junk) | "
        f"{', '.join(f'{t:.4f}' for t in guarded)} | {sorted(guarded)[len(guarded) // 2]:.4f} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
