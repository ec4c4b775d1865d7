"""Near-duplicate search at threshold 8 on hashes shaped like photographs', with planted near-duplicates.

    .venv/bin/python benchmarks/bench_nearest.py --sizes 100000,1000000

Uniform random 64-bit hashes flatter a multi-index search: photographs' phashes are clustered (the
DC bit is always set, neighbouring coefficients agree, many pictures share low-frequency structure).
Distributions measured:

- real: phashes of the 200 real photographs (../shared/real-photos), trimmed as dedupe trims them;
- replica: phashes of --replica synthetic archive photographs (crawler/replica), trimmed likewise;
- fitted: a Gaussian mixture fitted to the 8x8 low-frequency DCT blocks of real + replica photographs
  (k-means, then a full covariance per cluster, blocks scaled to unit AC energy since phash ignores
  scale), sampled at --sizes and hashed by the same code as dedupe (dataset.hashing.phash_orientations),
  so every synthetic picture has all 8 orientations;
- uniform: random bits, as the first version of this benchmark (orientations random too).

The fit is checked against the photographs it came from: bit means and the share of random pairs
within 8/12/16 bits. Half the planted pairs are plain copies (1..8 bits flipped), half turned copies
(the copy is another picture's mirror or quarter turn, 1..8 bits flipped). Each row times the search
exactly as dedupe runs it (dataset.dedupe._near_pairs): upright only, and with the 8 orientations.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.photos import machine  # noqa: E402
from dataset.dedupe import _near_pairs  # noqa: E402
from dataset.hashing import DECODE_SIDE, low_frequencies, phash_orientations, trim_picture  # noqa: E402
from dataset.imageio import load_image  # noqa: E402
from dataset.orientations import ORIENTATIONS, compose  # noqa: E402

THRESHOLD = 8
def _block(rgb) -> np.ndarray:
    """The phash input of a picture as dedupe sees it: trimmed, greyscale."""
    return low_frequencies(trim_picture(rgb.convert("L"), lambda: rgb)[0])


def photo_blocks(replica: int, cache: Path, real: Path, workers: int = 2) -> dict[str, np.ndarray]:
    """Low-frequency DCT blocks (n, 8, 8) of the real photographs and of `replica` replica photographs (cached)."""
    cache.mkdir(parents=True, exist_ok=True)
    cached = cache / f"blocks_{replica}.npz"
    if cached.exists():
        return dict(np.load(cached))
    real = np.stack([_block(load_image(p, mode="RGB", min_side=DECODE_SIDE)) for p in sorted(real.glob("*/*.jpg"))])
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        synthetic = np.stack(list(pool.map(_replica_block, range(replica), chunksize=64)))
    np.savez(cached, real=real, replica=synthetic)
    return {"real": real, "replica": synthetic}


def _replica_block(k: int) -> np.ndarray:
    from crawler.replica import render_photo

    size = (320, 240) if k % 5 else (240, 320)
    return _block(render_photo(1860 + (k * 37) % 130, 1000 + k, size))


def fit_mixture(blocks: np.ndarray, clusters: int, seed: int = 0) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """(weight, mean, Cholesky factor) per cluster of unit-AC-energy blocks: k-means, then full covariances."""
    x = _unit(blocks)
    rng = np.random.default_rng(seed)
    centres = x[rng.choice(len(x), clusters, replace=False)]
    for _ in range(30):
        label = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        centres = np.stack([x[label == c].mean(0) if np.any(label == c) else centres[c] for c in range(clusters)])
    model = []
    for c in range(clusters):
        members = x[label == c]
        if len(members) < 2:
            continue
        cov = np.cov(members.T) + np.eye(x.shape[1]) * 1e-4
        model.append((len(members) / len(x), members.mean(0), np.linalg.cholesky(cov)))
    return model


def _unit(blocks: np.ndarray) -> np.ndarray:
    flat = blocks.reshape(len(blocks), -1).astype(np.float64)
    return flat / np.linalg.norm(flat[:, 1:], axis=1, keepdims=True)


def sample_mixture(model: list, n: int, rng: np.random.Generator) -> np.ndarray:
    weights = np.array([w for w, _, _ in model])
    which = rng.choice(len(model), n, p=weights / weights.sum())
    out = np.empty((n, 64))
    for c, (_, mean, chol) in enumerate(model):
        rows = np.flatnonzero(which == c)
        out[rows] = mean + rng.standard_normal((len(rows), 64)) @ chol.T
    return out.reshape(n, 8, 8)


def plant(hashes: np.ndarray, pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[tuple[int, int], str]]:
    """Replace `pairs` pictures by copies of others, half of them turned; returns the hashes and the truth."""
    hashes = hashes.copy()
    n = hashes.shape[1]
    chosen = rng.choice(n, 2 * pairs, replace=False)
    truth = {}
    for k, (a, b) in enumerate(zip(chosen[:pairs], chosen[pairs:], strict=True)):
        turn = "none" if k % 2 == 0 else ORIENTATIONS[1 + k // 2 % 7]
        flips = np.uint64(sum(1 << int(f) for f in rng.choice(64, int(rng.integers(1, THRESHOLD + 1)), replace=False)))
        for s, name in enumerate(ORIENTATIONS):  # b = turn(a): b in orientation s is a in orientation turn-then-s
            hashes[s, b] = hashes[ORIENTATIONS.index(compose(turn, name)), a] ^ flips
        truth[(int(min(a, b)), int(max(a, b)))] = turn
    return hashes, truth


def stats(upright: np.ndarray, rng: np.random.Generator, samples: int = 200_000) -> str:
    bits = ((upright[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(np.float64)
    means = bits.mean(0)
    a, b = rng.integers(0, len(upright), samples), rng.integers(0, len(upright), samples)
    keep = a != b
    d = np.bitwise_count(upright[a[keep]] ^ upright[b[keep]])
    return (f"bits set: {means.min():.2f}..{means.max():.2f} (mean {means.mean():.2f}); random pairs within "
            f"8/12/16 bits: {100 * (d <= 8).mean():.3f}% / {100 * (d <= 12).mean():.2f}% / {100 * (d <= 16).mean():.1f}%")


def run(name: str, hashes: np.ndarray, truth: dict, upright_only: bool) -> str:
    arrays = {"phash": hashes[:1] if upright_only else hashes}
    start, start_cpu = time.perf_counter(), time.process_time()
    edges = _near_pairs(arrays, ("phash",), THRESHOLD)
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    wanted = {pair for pair, turn in truth.items() if upright_only is False or turn == "none"}
    found = sum(pair in edges for pair in wanted)
    mode = "upright only" if upright_only else "8 orientations"
    return (f"| {name} | {hashes.shape[1]:,} | {mode} | {seconds:.2f} | {cpu:.2f} | {len(edges):,} | {found}/{len(wanted)} | "
            f"{os.getloadavg()[0]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated N for the fitted and uniform sets")
    parser.add_argument("--replica", type=int, default=3000, help="replica photographs to hash")
    parser.add_argument("--clusters", type=int, default=16, help="mixture components of the fitted distribution")
    parser.add_argument("--planted", type=int, default=1000, help="planted near-duplicate pairs per set (fewer on small sets)")
    parser.add_argument("--distributions", default="real,replica,fitted,uniform", help="which sets to run")
    parser.add_argument("--real", type=Path, default=Path("/work/shared/real-photos/images"),
                        help="folder of the real photographs (one folder per collection)")
    parser.add_argument("--workers", type=int, default=2, help="processes rendering replica photographs")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/fotofecha-bench-nearest"),
                        help="folder keeping the photographs' DCT blocks between runs")
    args = parser.parse_args()
    wanted = args.distributions.split(",")
    rng = np.random.default_rng(0)
    print(f"Machine: {machine()}\n")
    blocks = photo_blocks(args.replica, args.cache, args.real, args.workers)
    model = fit_mixture(np.concatenate([blocks["real"], blocks["replica"]]), args.clusters)
    sets: list[tuple[str, np.ndarray]] = []
    if "real" in wanted:
        sets.append(("real photographs", phash_orientations(blocks["real"])))
    if "replica" in wanted:
        sets.append(("replica photographs", phash_orientations(blocks["replica"])))
    for n in [int(x) for x in args.sizes.split(",")]:
        if "fitted" in wanted:
            sets.append(("fitted mixture", phash_orientations(sample_mixture(model, n, rng))))
        if "uniform" in wanted:
            sets.append(("uniform random", rng.integers(0, 2**64, (8, n), dtype=np.uint64, endpoint=False)))
    print("Bit statistics (upright phash):")
    for name, hashes in sets:
        print(f"- {name} ({hashes.shape[1]:,}): {stats(hashes[0], rng)}")
    print("\n| hashes | N | search | seconds | CPU seconds | pairs found | planted found | load (1 min) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, hashes in sets:
        planted, truth = plant(hashes, min(args.planted, hashes.shape[1] // 10), rng)
        for upright_only in (True, False):
            print(run(name, planted, truth, upright_only), flush=True)
    print(f"\nLoad average after: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
