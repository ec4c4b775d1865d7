"""Hashing throughput: our draft-mode phash vs imagededup's PHash().encode_images on the same folder.

    .venv/bin/python benchmarks/bench_hash.py --count 1000 --workers 2

imagededup is installed for this benchmark only (pip install imagededup); it is not a dependency.
Prints a markdown table: images/s for each, speed-up, and how far the two hashes are apart.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.photos import DEFAULT_DIR, ensure_photos, machine  # noqa: E402
from dataset.hashing import hash_paths  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="photographs (>= 1 MP each)")
    parser.add_argument("--workers", type=int, default=2, help="processes for both tools")
    parser.add_argument("--photos", type=Path, default=DEFAULT_DIR, help="cache folder for the photographs")
    args = parser.parse_args()
    paths = ensure_photos(args.count, args.photos)
    folder = args.photos / f"set_{args.count}"
    folder.mkdir(exist_ok=True)
    for p in paths:  # imagededup hashes a whole folder: give it exactly these files
        link = folder / p.name
        if not link.exists():
            link.symlink_to(p)
    before = machine()

    start = time.perf_counter()
    ours = {Path(paths[k]).name: h["phash"] for k, h, _ in hash_paths(
        [(k, str(p), ("phash",)) for k, p in enumerate(paths)], workers=args.workers)}
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    list(hash_paths([(k, str(p), ("phash", "dhash")) for k, p in enumerate(paths)], workers=args.workers))
    both_s = time.perf_counter() - start

    from imagededup.methods import PHash

    start = time.perf_counter()
    theirs = PHash(verbose=False).encode_images(image_dir=str(folder), num_enc_workers=args.workers)
    theirs_s = time.perf_counter() - start

    bits = [(int(ours[name], 16) ^ int(theirs[name], 16)).bit_count() for name in ours]
    within = sum(b <= 2 for b in bits) / len(bits)
    n = len(paths)
    print(f"Machine: {before}")
    print(f"Photos: {n} JPEGs, 1280x960 (1.2 MP), workers={args.workers}\n")
    print("| tool | seconds | images/s |")
    print("|---|---:|---:|")
    print(f"| fotofecha dedupe hashing (draft decode, phash) | {ours_s:.1f} | {n / ours_s:.0f} |")
    print(f"| fotofecha dedupe hashing, --hash both (phash + dhash, one decode) | {both_s:.1f} | {n / both_s:.0f} |")
    print(f"| imagededup PHash().encode_images | {theirs_s:.1f} | {n / theirs_s:.0f} |")
    print(f"\nSpeed-up (phash vs phash): {theirs_s / ours_s:.1f}x. Hash difference (bits of 64): mean {sum(bits) / n:.2f}, "
          f"max {max(bits)}, within 2 bits: {100 * within:.1f}%")
    print(f"Load average after: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
