"""`cli.py evaluate`: score a finished run on one split of an export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from modeling.baselines import with_baselines
from modeling.decode import decode_outputs
from modeling.errors import NoExport, NoRun
from modeling.metrics import summarize
from modeling.plots import confusion_png
from modeling.runs import load_run_model, read_run_config
from modeling.training.data import PhotoDataset, read_export
from modeling.training.engine import infer


@dataclass(frozen=True)
class EvaluateConfig:
    model: Path  # run directory
    data: Path  # export directory
    split: str = "test"  # train | valid | test
    batch_size: int = 64  # images per forward pass
    workers: int = 0  # DataLoader worker processes
    png: Path | None = None  # confusion-matrix PNG; None = RUN_DIR/confusion_<split>.png
    show: bool = True  # progress bar on stderr
    grayscale: bool = False  # also score grayscale copies of the same images (how much colour alone tells)


def evaluate_run(config: EvaluateConfig) -> dict:
    """Every metric of metrics.summarize for the run on the split, plus where the PNG went."""
    run_config = read_run_config(config.model)
    export = read_export(config.data)
    if list(export.edges) != list(run_config["bins"]["edges"]):
        raise NoRun(f"{config.model} was trained on bins {run_config['bins']['edges']}, but {config.data} has "
                    f"{list(export.edges)}; evaluate on an export with the same --bins.")
    rows = export.split(config.split)
    if not rows:
        raise NoExport(f"Found 0 {config.split} rows in {config.data}/manifest.csv; choose another --split "
                       f"or re-run 'cli.py export'.")
    model, _ = load_run_model(config.model, run_config)
    result = with_baselines(_score(model, run_config, export, rows, config, grayscale=False), export.split("train"),
                            rows, export.edges, export.labels)
    if config.grayscale:
        result["grayscale"] = _score(model, run_config, export, rows, config, grayscale=True)
    png = config.png or Path(config.model) / f"confusion_{config.split}.png"
    confusion_png(result["confusion_matrix"], export.labels, png, title=f"{config.split} (rows = actual)")
    return {"run": str(config.model), "split": config.split, "arch": run_config["arch"],
            "task": run_config["task"], **result, "confusion_png": str(png)}


def _score(model, run_config: dict, export, rows, config: EvaluateConfig, grayscale: bool) -> dict:
    dataset = PhotoDataset(export.root, rows, run_config["img_size"], tuple(run_config["mean"]),
                           tuple(run_config["std"]), grayscale=grayscale)
    loader = DataLoader(dataset, batch_size=config.batch_size, num_workers=config.workers)
    out = infer(model, loader, None, torch.device("cpu"), "fp32", channels_last=False, show=config.show,
                desc=f"evaluate {config.split}{' (grayscale)' if grayscale else ''}")
    decoded = decode_outputs(out["outputs"], run_config["task"], export.edges, export.year_range)
    return summarize(out["bins"], decoded.bins, out["years"], decoded.years, export.labels)
