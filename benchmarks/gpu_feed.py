"""Does the loader keep a GPU fed? resnet18 at 224 px: `cli.py train` images/s beside the loader's own.

    python benchmarks/gpu_feed.py                       # on a CUDA machine (benchmarks/gpu_feed.sh runs it)
    python benchmarks/gpu_feed.py --device cpu --images 96 --img-size 32 --batch 16 --arch test_efficientnet \
        --workers 1 --epochs 2 --loader-epochs 1       # a smoke run anywhere

Writes a synthetic export (JPEGs of 341x256, as `cli.py export --image-size 256` stores them; a valid
split of 512) and measures, with the training code itself (modeling.training.setup.build):
  - loader alone, uint8: the training loader (workers decode and crop; bytes to the device, where
    augment.finish jitters and normalises), batches moved and finished on the device, no model;
  - loader alone, float: the same with PhotoDataset(pixels="normalised") (workers normalise, float32 to the device);
  - one worker's milliseconds per image in either mode (the CPU cost the workers share);
  - `cli.py train` end to end (a subprocess), images/s per epoch from its history.csv.
Prints one JSON object (also to $OUT/gpu_feed.json when $OUT is set).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from modeling.training.config import TrainConfig  # noqa: E402
from modeling.training.data import PhotoDataset  # noqa: E402
from modeling.training.engine import model_input  # noqa: E402
from modeling.training.setup import build  # noqa: E402

EDGES = list(range(1860, 2001, 10))  # 14 decade bins
VALID = 512


def _write_jpeg(job: tuple[Path, int]) -> None:
    path, seed = job
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(base).resize((341, 256), Image.Resampling.BILINEAR).save(path, quality=90)


def make_export(root: Path, images: int, processes: int) -> Path:
    """An export directory in format 1 (export.json + manifest.csv + images/) of generated photographs."""
    (root / "images").mkdir(parents=True)
    total = images + VALID
    with Pool(processes) as pool:
        pool.map(_write_jpeg, [(root / "images" / f"{i}.jpg", i) for i in range(total)], chunksize=64)
    labels = [f"{a}-{b - 1}" for a, b in zip(EDGES, EDGES[1:], strict=False)]
    (root / "export.json").write_text(json.dumps({"format_version": 1, "bins": {
        "spec": "10y", "edges": EDGES, "labels": labels}}), encoding="utf-8")
    with (root / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "year", "bin", "bin_index", "split"])
        for i in range(total):
            index = i % len(labels)
            writer.writerow([f"images/{i}.jpg", EDGES[index] + 5, labels[index], index,
                             "train" if i < images else "valid"])
    return root


def loader_rate(loader, device: torch.device, normalisation, epochs: int) -> float:
    """Images/s of the loader alone, each batch moved to the device and made model input; best epoch."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    best = 0.0
    for epoch in range(epochs + 1):  # the first pass starts the workers: not counted
        loader.batch_sampler.sampler.set_epoch(epoch)
        seen, start = 0, time.perf_counter()
        for images, _bins, _years in loader:
            batch = model_input(images, device, True, normalisation)
            seen += batch.shape[0]
        sync()
        if epoch:
            best = max(best, seen / (time.perf_counter() - start))
    return best


def worker_ms(dataset: PhotoDataset, count: int) -> float:
    """Milliseconds one worker spends per training image (decode, crop, ... as the mode does), in this process."""
    keys = [(i % len(dataset), 1000 + i) for i in range(count)]
    start = time.perf_counter()
    for key in keys:
        dataset[key]
    return 1000 * (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16384, help="training images to generate")
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=max(1, min(15, (os.cpu_count() or 2) - 1)))
    parser.add_argument("--epochs", type=int, default=3, help="cli.py train epochs (the first warms up)")
    parser.add_argument("--loader-epochs", type=int, default=2, help="timed passes of the loader alone")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="bf16")
    args = parser.parse_args()
    device = torch.device(args.device)
    report = {"device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
              "torch": torch.__version__, "cpu_count": os.cpu_count(), "arch": args.arch, "img_size": args.img_size,
              "batch": args.batch, "workers": args.workers, "images": args.images, "precision": args.precision}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        export = make_export(Path(tmp) / "export", args.images, os.cpu_count() or 2)
        report["generate_s"] = round(time.perf_counter() - start, 1)
        config = TrainConfig(data=export, out=Path(tmp) / "run", arch=args.arch, pretrained=False,
                             img_size=args.img_size, epochs=args.epochs, batch_size=args.batch, lr=1e-3,
                             workers=args.workers, device=args.device, precision=args.precision)
        setup = build(config)
        normalisation = (setup.mean, setup.std)
        report["loader_uint8_img_s"] = round(loader_rate(setup.train_loader, device, normalisation,
                                                         args.loader_epochs), 1)
        floats = DataLoader(PhotoDataset(export, setup.train_loader.dataset.rows, args.img_size, setup.mean,
                                         setup.std, config.augment, pixels="normalised"),
                            batch_sampler=setup.train_loader.batch_sampler, num_workers=args.workers,
                            pin_memory=device.type == "cuda", persistent_workers=args.workers > 0,
                            prefetch_factor=4 if args.workers > 0 else None)
        report["loader_float_img_s"] = round(loader_rate(floats, device, None, args.loader_epochs), 1)
        sample = min(256, args.images)
        report["worker_ms_per_image_uint8"] = round(worker_ms(setup.train_loader.dataset, sample), 3)
        report["worker_ms_per_image_float"] = round(worker_ms(floats.dataset, sample), 3)
        del setup, floats
        gc.collect()  # their persistent workers go before the training subprocess starts its own
        command = [sys.executable, str(ROOT / "cli.py"), "train", "--data", str(export), "--out", str(config.out),
                   "--arch", args.arch, "--no-pretrained", "--img-size", str(args.img_size), "--epochs",
                   str(args.epochs), "--batch-size", str(args.batch), "--lr", "1e-3", "--workers", str(args.workers),
                   "--device", args.device, "--precision", args.precision]
        start = time.perf_counter()
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        report["train_wall_s"] = round(time.perf_counter() - start, 1)
        if finished.returncode != 0:
            report["train_error"] = finished.stderr[-2000:]
        else:
            with (Path(config.out) / "history.csv").open(newline="") as handle:
                rates = [float(row["images_per_s"]) for row in csv.DictReader(handle)]
            report["train_img_s_per_epoch"] = rates
            report["train_img_s"] = max(rates[1:] or rates)  # the first epoch includes cuDNN autotuning
    print(json.dumps(report, indent=2))
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_feed.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if "train_img_s" in report:
        print(f"\n{args.arch} at {args.img_size} px, batch {args.batch}, {args.workers} workers, {args.precision}: "
              f"cli.py train {report['train_img_s']:,.0f} img/s; loader alone {report['loader_uint8_img_s']:,.0f} "
              f"img/s (uint8 feed), {report['loader_float_img_s']:,.0f} img/s (float feed: workers normalise)")


if __name__ == "__main__":
    main()
