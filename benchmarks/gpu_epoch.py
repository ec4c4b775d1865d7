"""Epoch time on a CUDA GPU: 10,000 generated 224 px images, resnet18 and efficientnet_b0, bf16/fp16 AMP,
channels_last, DataLoader workers. Target: under 15 s per epoch on one H100.

    python benchmarks/gpu_epoch.py                      # the full measurement (needs a GPU)
    python benchmarks/gpu_epoch.py --images 64 --device cpu --archs resnet18 --batch 16   # a smoke run

Needs only torch, timm, numpy and pillow, and no network: it writes its own JPEGs (341x256, as an export
stores them) and reads them with a self-contained copy of the training loader's work per image (JPEG draft
decode, random resized crop, flip, brightness/contrast jitter, normalise), because modeling.training.data pulls in the
project's database layer. Prints one JSON object, then a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

NUM_BINS = 14  # decade bins 1860-1999


def _write_jpeg(job: tuple[Path, int]) -> None:
    path, seed = job
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(base).resize((341, 256), Image.Resampling.BILINEAR).save(path, quality=90)


def make_images(root: Path, count: int, processes: int) -> list[tuple[str, int]]:
    jobs = [(root / f"{i}.jpg", i) for i in range(count)]
    with Pool(processes) as pool:
        pool.map(_write_jpeg, jobs, chunksize=64)
    return [(f"{i}.jpg", (i % 140) // 10) for i in range(count)]


class JpegDataset(Dataset):
    """(image, bin) with the per-image work of modeling.training.data.PhotoDataset at --augment light."""

    def __init__(self, root: Path, rows: list[tuple[str, int]], size: int, mean, std):
        self.root, self.rows, self.size = root, rows, size
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        name, bin_index = self.rows[index]
        rng = np.random.default_rng(index)
        with Image.open(self.root / name) as image:
            image.draft("RGB", (self.size, self.size))
            image = image.convert("RGB")
        width, height = image.size
        scale = rng.uniform(0.6, 1.0) ** 0.5
        w, h = int(width * scale), int(height * scale)
        left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        image = image.resize((self.size, self.size), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h))
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        array = np.asarray(image, dtype=np.float32) / 255.0
        brightness, contrast = (float(x) for x in 1.0 + rng.uniform(-0.1, 0.1, size=2))
        mean = float(array.mean())
        array = np.clip((array - mean) * contrast + mean * brightness, 0.0, 1.0)
        array = ((array - self.mean) / self.std).transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)), bin_index


def run_arch(arch: str, rows: list[tuple[str, int]], root: Path, args, device: torch.device) -> dict:
    model = timm.create_model(arch, num_classes=NUM_BINS).to(device).to(memory_format=torch.channels_last)
    cfg = model.pretrained_cfg
    dataset = JpegDataset(root, rows, args.size, cfg["mean"], cfg["std"])
    loader = DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                        pin_memory=device.type == "cuda", persistent_workers=args.workers > 0,
                        prefetch_factor=4 if args.workers > 0 else None, drop_last=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")
    dtype = torch.bfloat16 if device.type != "cuda" or torch.cuda.is_bf16_supported() else torch.float16
    amp = device.type == "cuda" or args.cpu_amp
    scaler = torch.amp.GradScaler("cuda") if amp and dtype == torch.float16 else None
    step_model = torch.compile(model) if args.compile else model

    def step(images, bins):
        images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        bins = bins.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype, enabled=amp):
            loss = torch.nn.functional.cross_entropy(step_model(images).float(), bins)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def epoch() -> float:
        sync()
        start = time.perf_counter()
        for images, bins in loader:
            step(images, bins)
        sync()
        return time.perf_counter() - start

    model.train()
    warm = epoch()  # worker start, cuDNN autotune, compile
    times = [epoch() for _ in range(args.epochs)]
    # The model alone on a resident batch: tells whether the loader or the GPU sets the pace.
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    bins = torch.randint(0, NUM_BINS, (args.batch,), device=device)
    steps = max(3, len(rows) // args.batch // 4)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step(images, bins)
    sync()
    model_img_s = steps * args.batch / (time.perf_counter() - start)
    # The loader alone.
    start = time.perf_counter()
    for _ in loader:
        pass
    loader_img_s = len(loader) * args.batch / (time.perf_counter() - start)
    best = min(times)
    return {"arch": arch, "images": len(loader) * args.batch, "size": args.size, "batch": args.batch,
            "workers": args.workers, "amp": str(dtype).removeprefix("torch.") if amp else "fp32",
            "compile": args.compile, "warmup_epoch_s": round(warm, 2), "epoch_s": [round(t, 2) for t in times],
            "best_epoch_s": round(best, 2), "train_img_s": round(len(loader) * args.batch / best, 1),
            "model_only_img_s": round(model_img_s, 1), "loader_only_img_s": round(loader_img_s, 1),
            "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
            "meets_15s_target": best < 15.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    parser.add_argument("--archs", nargs="+", default=["resnet18", "efficientnet_b0"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--cpu-amp", action="store_true", help="bf16 autocast when --device cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        rows = make_images(Path(tmp), args.images, max(1, min(16, os.cpu_count() or 1)))
        generate_s = time.perf_counter() - start
        results = [run_arch(arch, rows, Path(tmp), args, device) for arch in args.archs]
    report = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
              "torch": torch.__version__, "timm": timm.__version__, "cpu_count": os.cpu_count(),
              "generate_images_s": round(generate_s, 1), "results": results}
    print(json.dumps(report, indent=2))
    print(f"\n{report['device']}, {args.images} images at {args.size} px, batch {args.batch}, "
          f"{args.workers} workers\n")
    print("| arch | AMP | epoch s (best) | train img/s | model-only img/s | loader-only img/s | < 15 s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['arch']} | {r['amp']} | {r['best_epoch_s']} | {r['train_img_s']} | {r['model_only_img_s']} "
              f"| {r['loader_only_img_s']} | {'yes' if r['meets_15s_target'] else 'no'} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
