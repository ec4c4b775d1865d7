"""Near-duplicate search over random 64-bit hashes with planted near-duplicates, threshold 8.

    .venv/bin/python benchmarks/bench_nearest.py --sizes 20000,100000,1000000 --imagededup-at 20000

Checks that every planted pair is found, reports time and its growth with N, and compares with
imagededup's default search (find_duplicates from an encoding map, brute force in Cython) at one
size, in a subprocess with a time cap. Its search is quadratic, so on a shared 2-core machine it
is run at 20k by default and its 100k time is extrapolated (x25); pass --imagededup-at 100000 to
measure it there instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.photos import machine  # noqa: E402
from dataset.nearest import _plan, pairs_within  # noqa: E402

THRESHOLD = 8


def planted(n: int, pairs: int, seed: int = 0) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Random hashes; `pairs` of them replaced by copies of another with 1..8 bits flipped."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
    sources = rng.choice(n, 2 * pairs, replace=False)
    truth = set()
    for a, b in zip(sources[:pairs], sources[pairs:], strict=True):
        flips = rng.choice(64, int(rng.integers(1, THRESHOLD + 1)), replace=False)
        hashes[b] = hashes[a] ^ np.uint64(sum(1 << int(f) for f in flips))
        truth.add((int(min(a, b)), int(max(a, b))))
    return hashes, truth


IMAGEDEDUP = """
import json, sys, time
import numpy as np
from imagededup.methods import PHash
hashes = np.load(sys.argv[1])
encoding = {str(k): format(int(h), "016x") for k, h in enumerate(hashes)}
start = time.perf_counter()
found = PHash(verbose=False).find_duplicates(encoding_map=encoding, max_distance_threshold=8)
print(json.dumps({"seconds": time.perf_counter() - start, "pairs": sum(len(v) for v in found.values()) // 2}))
"""


def run_imagededup(hashes: np.ndarray, cap_s: int, tmp: Path) -> str:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "hashes.npy"
    np.save(path, hashes)
    try:
        out = subprocess.run([sys.executable, "-c", IMAGEDEDUP, str(path)], capture_output=True, text=True, timeout=cap_s)
    except subprocess.TimeoutExpired:
        return f"> {cap_s} s (stopped)"
    if out.returncode:
        return f"failed: {out.stderr.strip().splitlines()[-1]}"
    result = json.loads(out.stdout.strip().splitlines()[-1])
    extrapolated = result["seconds"] * (100_000 / len(hashes)) ** 2
    note = f"; ~{extrapolated:.0f} s at 100k (quadratic)" if len(hashes) != 100_000 else ""
    return f"{result['seconds']:.1f} s ({result['pairs']} pairs{note})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000,1000000", help="comma-separated N")
    parser.add_argument("--planted", type=int, default=1000, help="planted near-duplicate pairs per N")
    parser.add_argument("--imagededup-at", type=int, default=20000, help="N to run imagededup at (0: skip)")
    parser.add_argument("--imagededup-cap", type=int, default=600, help="seconds before imagededup is stopped")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print("| N | chunks x bits | radius | seconds | pairs found | planted found | imagededup default search |")
    print("|---:|---|---:|---:|---:|---:|---|")
    previous = None
    growth = []
    for n in [int(x) for x in args.sizes.split(",")]:
        hashes, truth = planted(n, args.planted)
        start = time.perf_counter()
        i, j, _ = pairs_within(hashes, THRESHOLD)
        seconds = time.perf_counter() - start
        found = set(zip(i.tolist(), j.tolist(), strict=True))
        plan = _plan(n, THRESHOLD, 64)
        chunks = "exhaustive" if plan is None else f"{len(plan[0])} x {'/'.join(str(w) for _, w in plan[0])}"
        theirs = run_imagededup(hashes, args.imagededup_cap, Path("/tmp/fotofecha-bench-nearest")) \
            if n == args.imagededup_at else "-"
        print(f"| {n:,} | {chunks} | {plan[1] if plan else '-'} | {seconds:.2f} | {len(found):,} | "
              f"{len(truth & found)}/{len(truth)} | {theirs} |")
        if previous:
            growth.append(f"x{n / previous[0]:.0f} N -> x{seconds / previous[1]:.1f} time "
                          f"(quadratic: x{(n / previous[0]) ** 2:.0f})")
        previous = (n, seconds)
    if growth:
        print(f"\nGrowth: {'; '.join(growth)}.")
    print(f"Load average after: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
