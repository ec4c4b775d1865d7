"""Which recipe dates photographs best? arch x task x sampler x pretrained on one replica export.

    python benchmarks/experiments.py [--records 800] [--img-size 64] [--epochs 5] [--seeds 0 1 2] [--quick]

Builds (once, cached in --workdir) a replica archive -> database -> dedupe -> export with 20y and decade bins,
trains every grid row once per seed with `modeling.training.train`, and scores the test split with `modeling.inference.evaluate`
(mean and standard deviation over seeds). The study's
recipe is a plain fine-tune (cross-entropy, natural sampling); ours is a pretrained backbone, a balanced
sampler and soft labels decoded by expected value. Offline, only tf_efficientnet_lite0 has pretrained weights,
so resnet18 rows train from scratch. Prints a markdown table and writes results.json to --workdir.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from modeling.inference.evaluate import EvaluateConfig, evaluate_run  # noqa: E402
from modeling.training.config import TrainConfig  # noqa: E402
from modeling.training.train import train  # noqa: E402

LITE0 = "tf_efficientnet_lite0"
# (name, arch, pretrained, task, loss, sampler)
GRID_20Y = [
    ("study: resnet18 scratch", "resnet18", False, "classify", "ce", "natural"),
    ("study: plain fine-tune", LITE0, True, "classify", "ce", "natural"),
    ("recipe: pretrained+balanced+soft", LITE0, True, "classify", "soft", "balanced"),
    ("pretrained+soft, natural", LITE0, True, "classify", "soft", "natural"),
    ("pretrained+ce, balanced", LITE0, True, "classify", "ce", "balanced"),
    ("lite0 scratch+balanced+soft", LITE0, False, "classify", "soft", "balanced"),
    ("resnet18 scratch+balanced+soft", "resnet18", False, "classify", "soft", "balanced"),
    ("regress pretrained, natural", LITE0, True, "regress", "l1", "natural"),
    ("regress resnet18 scratch", "resnet18", False, "regress", "l1", "natural"),
]
GRID_DECADE = [GRID_20Y[i] for i in (0, 1, 2, 7)]
METRICS = ("accuracy", "balanced_accuracy", "mae", "within_10")
QUICK = [GRID_20Y[i] for i in (1, 2)]


def build_export(workdir: Path, records: int, bins: str, image_size: int) -> Path:
    """Replica archive -> SQLite -> dedupe -> export (cached: reused when it exists)."""
    from crawler.replica import build_archive
    from dataset.dedupe import DedupeConfig, run_dedupe
    from dataset.export import ExportConfig, run_export
    from db.dates import parse_date
    from db.models import Image, Record
    from db.session import make_engine, session_scope

    out = workdir / f"export_{bins}"
    if (out / "manifest.csv").is_file():
        return out
    url = f"sqlite:///{workdir / 'archive.db'}"
    fresh = not (workdir / "archive.db").is_file()
    engine = make_engine(url)
    if fresh:
        archive = build_archive(records, seed=0)
        images = workdir / "images"
        images.mkdir(parents=True, exist_ok=True)
        with session_scope(engine) as session:
            for record in archive.records:
                data, date = archive.image_bytes(record.source_id), parse_date(record.date_raw)
                if data is None or date.year is None or "image_truncated" in record.faults:
                    continue
                suffix = ".png" if record.image_format == "PNG" else ".jpg"
                path = images / f"{record.source_id}{suffix}"
                path.write_bytes(data)
                from PIL import Image as PILImage

                with PILImage.open(io.BytesIO(data)) as im:
                    width, height = im.size
                session.add(Record(source="replica", source_id=record.source_id, title=record.source_id,
                                   date_raw=record.date_raw, year=date.year, year_min=date.year_min,
                                   year_max=date.year_max, date_precision=date.precision,
                                   images=[Image(url=f"http://127.0.0.1{record.image_path}", path=str(path.resolve()),
                                                 width=width, height=height, format=record.image_format,
                                                 bytes=len(data), status="ok")]))
        run_dedupe(engine, DedupeConfig(progress=False))
    run_export(engine, ExportConfig(out=out, bins=bins, image_size=image_size, seed=0, progress=False), url)
    engine.dispose()
    return out


def run_grid(export: Path, bins: str, grid, args) -> list[dict]:
    rows = []
    for name, arch, pretrained, task, loss, sampler in grid:
        per_seed, seconds = [], 0.0
        for seed in args.seeds:
            slug = name.replace(" ", "_").replace(":", "").replace("+", "_").replace(",", "")
            out = args.workdir / "runs" / f"{bins}_{slug}_s{seed}"
            config = TrainConfig(data=export, out=out, arch=arch, pretrained=pretrained, task=task, loss=loss,
                                 sampler=sampler, img_size=args.img_size, epochs=args.epochs, batch_size=32,
                                 lr=args.lr, workers=args.workers, seed=seed, augment="light", resume=True)
            start = time.perf_counter()
            train(config, show=False)  # resume=True: a finished run is reused, a killed one continues
            seconds += time.perf_counter() - start
            per_seed.append(evaluate_run(EvaluateConfig(model=out, data=export, split="test", show=False)))
        row = {"bins": bins, "name": name, "arch": arch, "pretrained": pretrained, "task": task, "loss": loss,
               "sampler": sampler, "n_test": per_seed[0]["n"], "seeds": list(args.seeds), "train_s": round(seconds, 1)}
        for metric in METRICS:
            values = [result[metric] for result in per_seed]
            row[metric], row[f"{metric}_sd"], row[f"{metric}_per_seed"] = (
                float(np.mean(values)), float(np.std(values)), values)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fotofecha-experiments"))
    parser.add_argument("--records", type=int, default=800)
    parser.add_argument("--export-size", type=int, default=96, help="short side of the exported images")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="only the study's plain fine-tune and the recipe, 20y")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    load_before, start = os.getloadavg(), time.perf_counter()
    rows = []
    for bins, grid in (("20y", QUICK if args.quick else GRID_20Y), ("decade", [] if args.quick else GRID_DECADE)):
        if grid:
            export = build_export(args.workdir, args.records, bins, args.export_size)
            rows += run_grid(export, bins, grid, args)
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(), "minutes": round((time.perf_counter() - start) / 60, 1), "rows": rows}
    (args.workdir / "results.json").write_text(json.dumps(report, indent=2))
    print("| bins | run | arch | pretrained | task/loss | sampler | accuracy | balanced acc | MAE (y) | within 10y |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r[m]:.3f} ± {r[m + '_sd']:.3f}" if m != "mae" else f"{r[m]:.1f} ± {r[m + '_sd']:.1f}"
                 for m in METRICS]
        print(f"| {r['bins']} | {r['name']} | {r['arch']} | {'yes' if r['pretrained'] else 'no'} | "
              f"{r['task']}/{r['loss']} | {r['sampler']} | " + " | ".join(cells) + " |")
    tests = ", ".join(f"{r['bins']} {r['n_test']}" for r in rows[:: max(1, len(rows) - 1)])
    print(f"\nmean ± sd over seeds {args.seeds}; test images: {tests}; {report['minutes']} min; load average "
          f"before {load_before}, after {report['loadavg_after']} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
