"""Training and inference images/s per architecture on this machine's CPU, and the data loader's images/s.

    python benchmarks/bench_train.py [--threads 2] [--sizes 128 224] [--archs resnet18 ...] [--json out.json]

Models run on random tensors (the model alone; images/s of the fastest of --steps steps after a warm-up step,
the figure least disturbed by other processes on a shared machine), with the precision `cli.py train --precision auto` picks
(bf16 autocast for resnets on AMX CPUs, fp32 otherwise) and channels_last. The loader runs modeling.training.data's
PhotoDataset (JPEG decode with draft, light augmentation) over generated 256 px JPEGs, as an export has them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from modeling.training.data import EpochSampler, ExportRow, PhotoDataset  # noqa: E402
from modeling.training.setup import autocast, resolve_precision  # noqa: E402

ARCHS = ("resnet18", "efficientnet_b0", "tf_efficientnet_lite0", "seresnet18", "convnext_tiny",
         "mobilenetv3_small_100")


def bench_model(arch: str, size: int, batch: int, steps: int, precision: str = "auto") -> dict:
    device = torch.device("cpu")
    precision = resolve_precision(precision, device, arch)
    model = timm.create_model(arch, num_classes=7).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 7, (batch,))

    def train_step():
        with autocast(device, precision):
            out = model(images)
        loss = torch.nn.functional.cross_entropy(out.float(), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def infer_step():
        with torch.inference_mode(), autocast(device, precision):
            model(images)

    result = {"arch": arch, "size": size, "batch": batch, "precision": precision}
    for name, step, mode in (("train", train_step, model.train), ("infer", infer_step, model.eval)):
        mode()
        step()  # warm-up (allocations, oneDNN kernels)
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        # The fastest step: the least disturbed by other processes on a shared machine.
        result[f"{name}_img_s"] = round(batch / min(times), 1)
    return result


def bench_loader(size: int, workers: int, images: int, root: Path) -> dict:
    rows = [ExportRow(file=f"{i}.jpg", year=1900.0, bin_index=i % 7, split="train") for i in range(images)]
    dataset = PhotoDataset(root, rows, size, (0.5,) * 3, (0.5,) * 3, augment="light")
    sampler = EpochSampler([r.bin_index for r in rows], "natural", 0)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler, num_workers=workers,
                        persistent_workers=workers > 0)
    for _ in loader:  # warm-up epoch: worker start, page cache
        pass
    start = time.perf_counter()
    for _ in loader:
        pass
    return {"size": size, "workers": workers, "loader_img_s": round(images / (time.perf_counter() - start), 1)}


def make_jpegs(root: Path, count: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        base = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((341, 256), Image.Resampling.BILINEAR)  # an export's 256 px short side
        image.save(root / f"{i}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 224])
    parser.add_argument("--archs", nargs="+", default=list(ARCHS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--loader-images", type=int, default=256)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    parser.add_argument("--skip-loader", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    models = []
    for arch in args.archs:
        for size in args.sizes:
            models.append(bench_model(arch, size, args.batch, args.steps, args.precision))
            print(json.dumps(models[-1]), file=sys.stderr, flush=True)
    loaders = []
    with tempfile.TemporaryDirectory() as tmp:
        make_jpegs(Path(tmp), args.loader_images)
        for size in [] if args.skip_loader else args.sizes:
            for workers in (0, args.threads):
                loaders.append(bench_loader(size, workers, args.loader_images, Path(tmp)))
                print(json.dumps(loaders[-1]), file=sys.stderr, flush=True)
    report = {"threads": args.threads, "cpu_count": os.cpu_count(), "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(), "torch": torch.__version__, "models": models, "loaders": loaders}
    print("| arch | px | precision | train img/s | infer img/s | loader img/s (best) | loader / train |")
    print("|---|---|---|---|---|---|---|")
    for row in models:
        best_loader = max((x["loader_img_s"] for x in loaders if x["size"] == row["size"]), default=float("nan"))
        print(f"| {row['arch']} | {row['size']} | {row['precision']} | {row['train_img_s']} | {row['infer_img_s']} "
              f"| {best_loader} | {best_loader / row['train_img_s']:.1f}x |")
    print(f"\nload average before {load_before}, after {report['loadavg_after']} ({os.cpu_count()} CPUs)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
