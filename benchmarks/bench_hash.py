"""Hashing throughput: the previous hashing (upright only) vs now (borders trimmed, 8 orientations),
and imagededup's PHash().encode_images on the same folder when it is installed.

    .venv/bin/python benchmarks/bench_hash.py --count 1000 --workers 2

imagededup is not a dependency: it is compared only when importable here. Never install it into the
project's venv; benchmarks/bench_peers.py runs it (and Sickle, faiss) from a venv of its own, alternating.
Prints a markdown table: images/s for each, the cost of trimming and orientations, how far apart hashes are.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import imagehash  # noqa: E402

from benchmarks.photos import DEFAULT_DIR, ensure_photos, machine  # noqa: E402
from dataset.hashing import DECODE_SIDE, _dhashes, _phashes, hash_paths, trim_picture  # noqa: E402
from dataset.imageio import load_image  # noqa: E402


def previous_phash(path: str) -> str:
    """The hashing before trimming and orientations: draft decode, imagehash.phash of the upright picture."""
    return str(imagehash.phash(load_image(path, mode="L", min_side=DECODE_SIDE)))


def timed_previous(paths: list[Path], workers: int) -> tuple[float, dict[str, str]]:
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        hashes = list(pool.map(previous_phash, [str(p) for p in paths], chunksize=32))
    return time.perf_counter() - start, {p.name: h for p, h in zip(paths, hashes, strict=True)}


def timed_now(paths: list[Path], algorithms: tuple[str, ...], workers: int) -> tuple[float, dict[str, str]]:
    start = time.perf_counter()
    jobs = [(k, str(p), algorithms) for k, p in enumerate(paths)]
    results = [item for batch in hash_paths(jobs, workers=workers) for item in batch]
    seconds = time.perf_counter() - start
    return seconds, {paths[k].name: picture.hashes[algorithms[0]][0] for k, picture, _ in results}


def step_costs(paths: list[Path]) -> list[tuple[str, float]]:
    """CPU milliseconds per image of each step, in one process (so other jobs on the machine count less)."""
    def cpu_ms(step) -> float:
        start = time.process_time()
        for item in items:
            step(item)
        return (time.process_time() - start) / len(items) * 1000

    items = [str(p) for p in paths]
    rows = [("draft decode, greyscale (previous)", cpu_ms(lambda p: load_image(p, mode="L", min_side=DECODE_SIDE))),
            ("draft decode, colour (now)", cpu_ms(lambda p: load_image(p, mode="RGB", min_side=DECODE_SIDE)))]
    items = [load_image(p, mode="RGB", min_side=DECODE_SIDE) for p in items]
    rows.append(("border search and crop (now)", cpu_ms(lambda c: trim_picture(c.convert("L"), lambda: c))))
    items = [c.convert("L") for c in items]
    rows += [("imagehash.phash, upright (previous)", cpu_ms(imagehash.phash)),
             ("phash, 8 orientations (now)", cpu_ms(_phashes)),
             ("imagehash.dhash, upright (previous)", cpu_ms(imagehash.dhash)),
             ("dhash, 8 orientations (now)", cpu_ms(_dhashes))]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="photographs (>= 1 MP each)")
    parser.add_argument("--workers", type=int, default=2, help="processes for every tool")
    parser.add_argument("--photos", type=Path, default=DEFAULT_DIR, help="cache folder for the photographs")
    args = parser.parse_args()
    paths = ensure_photos(args.count, args.photos)
    before = machine()
    n = len(paths)

    previous_s, previous = timed_previous(paths, args.workers)
    now_s, now = timed_now(paths, ("phash",), args.workers)
    both_s, _ = timed_now(paths, ("phash", "dhash"), args.workers)
    rows = [
        ("previous: upright phash only, no trimming (draft decode)", previous_s),
        ("now: phash, borders trimmed, 8 orientations", now_s),
        ("now: --hash both (phash + dhash), borders trimmed, 8 orientations, one decode", both_s),
    ]
    try:
        from imagededup.methods import PHash
    except ImportError:
        PHash = None
    if PHash is not None:
        folder = args.photos / f"set_{args.count}"
        folder.mkdir(exist_ok=True)
        for p in paths:  # imagededup hashes a whole folder: give it exactly these files
            link = folder / p.name
            if not link.exists():
                link.symlink_to(p)
        start = time.perf_counter()
        PHash(verbose=False).encode_images(image_dir=str(folder), num_enc_workers=args.workers)
        rows.append(("imagededup PHash().encode_images", time.perf_counter() - start))

    changed = [(int(previous[name], 16) ^ int(now[name], 16)).bit_count() for name in previous]
    print(f"Machine: {before}")
    print(f"Photos: {n} JPEGs, 1280x960 (1.2 MP), workers={args.workers}\n")
    print("| hashing | seconds | images/s |")
    print("|---|---:|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.1f} | {n / seconds:.0f} |")
    if PHash is None:
        print("| imagededup PHash().encode_images | not installed (pip install imagededup to compare) | |")
    print(f"\nCost of trimming + 8 orientations (phash): {100 * (now_s / previous_s - 1):+.0f}% time. "
          f"The upright hash differs from the previous one on {sum(b > 0 for b in changed)} of {n} photographs "
          f"(mean {sum(changed) / n:.2f} bits): the replica draws card and white borders on old prints, now trimmed.")
    print(f"\nCPU per image of each step, one process, first {min(n, 300)} photographs:\n")
    print("| step | ms |")
    print("|---|---:|")
    for label, ms in step_costs(paths[:300]):
        print(f"| {label} | {ms:.2f} |")
    print(f"\nLoad average after: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
