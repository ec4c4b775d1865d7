"""Export resize throughput (images/s) on >= 1 MP photographs, through the real export code.

    .venv/bin/python benchmarks/bench_export.py --count 1000 --workers 1,2
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.photos import DEFAULT_DIR, ensure_photos, machine  # noqa: E402
from dataset.export import ExportConfig, run_export  # noqa: E402
from db.models import Image, ImageDuplicate, Record  # noqa: E402
from db.session import make_engine, session_scope  # noqa: E402


def build_db(url: str, paths: list[Path]) -> None:
    """One dated record per photo, each already judged unique by dedupe (hashing is bench_hash's job)."""
    engine = make_engine(url)
    with session_scope(engine) as s:
        for k, path in enumerate(paths):
            year = 1860 + (k * 7) % 130
            image = Image(url=path.name, path=str(path), sha256=hashlib.sha256(path.name.encode()).hexdigest(),
                          width=1280, height=960, format="JPEG", bytes=path.stat().st_size, status="ok")
            s.add(Record(source="bench", source_id=path.name, year=year, year_min=year, year_max=year, images=[image]))
            s.flush()
            s.add(ImageDuplicate(image_id=image.id, cluster_id=image.id, group_id=image.id, excluded=False,
                                 role="unique", algorithm="phash", threshold=8))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--photos", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    paths = ensure_photos(args.count, args.photos)
    tmp = Path(tempfile.mkdtemp(prefix="fotofecha-bench-export-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    build_db(url, paths)
    engine = make_engine(url)
    print(f"Machine: {machine()}")
    print(f"Photos: {len(paths)} JPEGs 1280x960 -> short side {args.image_size}, JPEG q95\n")
    print("| workers | seconds | images/s |")
    print("|---:|---:|---:|")
    for workers in [int(w) for w in args.workers.split(",")]:
        out = tmp / f"export_{workers}"
        start = time.perf_counter()
        summary = run_export(engine, ExportConfig(out=out, image_size=args.image_size, workers=workers,
                                                  progress=False, bins="20y"), url)
        seconds = time.perf_counter() - start
        print(f"| {workers} | {seconds:.1f} | {summary.images / seconds:.0f} |")
        shutil.rmtree(out)
    engine.dispose()
    shutil.rmtree(tmp)
    print(f"Load average after: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
