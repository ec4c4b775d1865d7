"""bench_peers.py's near-duplicate search: dataset.nearest against faiss's exact binary index."""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

from benchmarks.peers.common import ROOT, TMP, alternate, cpu_seconds, importable, median, run_child


def child_search_fotofecha(hashes_file: str, threshold: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from dataset.nearest import pairs_within

    hashes = np.load(hashes_file)
    cpu, start = cpu_seconds(), time.perf_counter()
    i, _, _ = pairs_within(hashes, threshold)
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu, "items": len(hashes), "pairs": len(i)}


def child_search_faiss(hashes_file: str, threshold: int) -> dict:
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(1)  # as fotofecha's search: one core
    codes = np.load(hashes_file).astype(">u8").view(np.uint8).reshape(-1, 8)
    cpu, start = cpu_seconds(), time.perf_counter()
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)
    limits, _, labels = index.range_search(codes, threshold + 1)  # faiss keeps distances < radius
    pairs = sum(int((labels[limits[q]:limits[q + 1]] > q).sum()) for q in range(len(codes)))
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu, "items": len(codes), "pairs": pairs}


def compare_search(args, lines: list[str]) -> None:
    import numpy as np

    missing = importable(args.peers_python, "faiss")
    lines += ["## Near-duplicate search, threshold 8, one core, uniform random hashes with planted pairs", ""]
    if missing:
        lines += [f"faiss not importable ({missing}): only fotofecha measured.", ""]
    lines += ["| hashes | tool | pairs | wall s | CPU s | faiss / tool, wall |", "|--:|:--|--:|--:|--:|--:|"]
    rng = np.random.default_rng(0)
    for n in args.search_sizes:
        hashes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, n).astype(np.uint64)
        copies = rng.choice(n, n // 100, replace=False)
        hashes[copies[1::2]] = hashes[copies[::2]][: len(copies[1::2])] ^ np.uint64(0b1011)  # 3 bits apart
        path = TMP / f"fotofecha-bench-hashes-{n}.npy"
        np.save(path, hashes)
        runs = {"fotofecha dataset.nearest.pairs_within": partial(
            run_child, Path(sys.executable), "search-fotofecha", str(path), 8)}
        if not missing:
            runs["faiss IndexBinaryFlat range_search"] = partial(run_child, args.peers_python, "search-faiss", str(path), 8)
        results = alternate(args.rounds, runs)
        peer = results.get("faiss IndexBinaryFlat range_search")
        for tool, rs in results.items():
            if any("error" in r for r in rs):
                raise SystemExit(f"a search run failed: {tool}: {rs[0].get('error')}")
            wall = median(rs, "wall")
            ratio = f"{median(peer, 'wall') / wall:.1f}x" if peer else "-"
            lines.append(f"| {n:,} | {tool} | {rs[0]['pairs']} | {wall:.3f} | {median(rs, 'cpu'):.3f} | {ratio} |")
    lines.append("")


CHILDREN = {"search-fotofecha": child_search_fotofecha, "search-faiss": child_search_faiss}
