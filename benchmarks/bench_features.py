"""Frozen-feature path speed: head fitting on 10,000 cached vectors, embedding img/s per backbone, cold vs warm run.

    python benchmarks/bench_features.py [--vectors 10000] [--embed-images 48] [--export-images 300]
                                        [--out benchmarks/results/bench_features.txt]

1. fit_head on --vectors synthetic 1280-d vectors (7 bins, class means + noise) per head (ce, soft, ridge, huber).
2. embed_files on --embed-images rendered 320x240 JPEGs for lite0 / lite1 / lite2 at 224 / 240 / 260 px
   (decode + forward, fresh cache).
3. `train --head-only` twice on one export of --export-images replica photographs: cold cache, then warm.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from modeling.features.embed import FeatureCache, FeatureKey, embed_files  # noqa: E402
from modeling.features.heads import fit_head  # noqa: E402
from modeling.models import create_model, model_normalisation  # noqa: E402
from modeling.training.config import TrainConfig  # noqa: E402
from modeling.training.data import Export, ExportRow  # noqa: E402

EDGES = (1860, 1880, 1900, 1920, 1940, 1960, 1980, 2000)
LABELS = tuple(f"{a}-{b - 1}" for a, b in zip(EDGES[:-1], EDGES[1:], strict=True))
BACKBONES = (("tf_efficientnet_lite0", 224), ("tf_efficientnet_lite1", 240), ("tf_efficientnet_lite2", 260))


def bench_heads(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    bins = rng.integers(0, 7, n)
    centres = rng.normal(size=(7, 1280))
    vectors = (centres[bins] + 3.0 * rng.normal(size=(n, 1280))).astype(np.float32)
    rows = [ExportRow(file=f"{i}.jpg", year=float(EDGES[b] + rng.integers(0, 20)), bin_index=int(b), split="train")
            for i, b in enumerate(bins)]
    export = Export(root=Path("."), spec="20y", edges=EDGES, labels=LABELS, rows=tuple(rows))
    lines = []
    for task, loss in (("classify", "ce"), ("classify", "soft"), ("regress", "ridge"), ("regress", "huber")):
        config = TrainConfig(data=Path("."), out=Path("."), task=task, loss=loss, head_only=True)
        start = time.perf_counter()
        fit_head(vectors, rows, config, export)
        lines.append(f"  {loss:6} head on {n} x 1280 vectors: {time.perf_counter() - start:.2f} s")
    return lines


def write_jpegs(folder: Path, count: int) -> list[Path]:
    from crawler.replica import render_photo

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        buffer = io.BytesIO()
        render_photo(1860 + (i * 37) % 140, i, (320, 240)).save(buffer, format="JPEG", quality=90)
        path = folder / f"{i:04d}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def bench_embedding(root: Path, count: int) -> list[str]:
    files = write_jpegs(root / "jpegs", count)
    lines = []
    for arch, size in BACKBONES:
        model = create_model(arch, 7, pretrained=True).eval()
        mean, std = model_normalisation(model)
        embed_files(model, files[:4], FeatureCache(root / f"warmup-{arch}", FeatureKey(arch, "imagenet", size)),
                    size, mean, std, show=False)
        result = embed_files(model, files, FeatureCache(root / f"cache-{arch}", FeatureKey(arch, "imagenet", size)),
                             size, mean, std, show=False)
        lines.append(f"  {arch} at {size} px: {count / result.seconds:.1f} img/s ({count} images, decode included)")
    return lines


def bench_cold_warm(root: Path, images: int) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from real_photos import replica_export

    from modeling.training.train import train

    export = replica_export(root, images)
    config = TrainConfig(data=export, out=root / "run", head_only=True, workers=0)
    start = time.perf_counter()
    first = train(config, show=False)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    result = train(config, show=False)
    warm = time.perf_counter() - start
    return [f"  cold ({first.embedding.computed} images embedded): {cold:.1f} s; "
            f"warm (0 embedded, {result.embedding.reused} reused): {warm:.1f} s; speed-up {cold / warm:.0f}x"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=int, default=10_000)
    parser.add_argument("--embed-images", type=int, default=48)
    parser.add_argument("--export-images", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_features.txt"))
    args = parser.parse_args()
    lines = [f"# benchmarks/bench_features.py on {platform.node()} ({os.cpu_count()} vCPU, no GPU, torch "
             f"{torch.__version__}, {torch.get_num_threads()} threads); other jobs were running on this machine."]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for title, part in (("head fit (goal: < 10 s on 10,000 vectors)", lambda: bench_heads(args.vectors)),
                            ("embedding throughput", lambda: bench_embedding(root, args.embed_images)),
                            ("head-only run, cold vs warm feature cache (goal: >= 20x)",
                             lambda: bench_cold_warm(root, args.export_images))):
            lines.append(title)
            print(title, flush=True)
            for line in part():
                print(line, flush=True)
                lines.append(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
