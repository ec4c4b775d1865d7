"""The run directory: what training writes and what evaluate, predict, compare and the web app read.

RUN_DIR/model.safetensors (best epoch), config.json, history.csv, metrics.json, confusion_matrix.png,
curves.png, lr_find.png (with --lr auto) and checkpoint.pt (the last finished epoch, for --resume).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from db import csvsafe
from modeling.errors import NoRun

WEIGHTS, CONFIG, HISTORY, METRICS, CHECKPOINT = (
    "model.safetensors", "config.json", "history.csv", "metrics.json", "checkpoint.pt")
_FIX = "Train one with 'cli.py train --data DIR --out RUN_DIR', or pass --model RUN_DIR of a finished run."


CODE_VERSION = "0.1.0"


def write_run_config(run_dir: Path, config, export, mean, std, best: dict | None, **extra) -> None:
    """config.json: what evaluate, predict and the app need to rebuild the model, and what it was validated on.

    `config` is the TrainConfig, `export` the training data.Export, `best` the selected metrics.
    """
    sources = ", ".join(f"{name or 'unknown'} ({count})" for name, count in export.sources) or "unknown"
    write_json(Path(run_dir) / CONFIG, {
        "arch": config.arch, "task": config.task,
        "num_classes": export.num_bins,
        "bins": {"spec": export.spec, "edges": list(export.edges), "labels": list(export.labels)},
        "year_range": list(export.year_range), "img_size": config.img_size,
        "mean": list(mean), "std": list(std), "export": str(Path(export.root).resolve()),
        "residual_sigma": best["rmse"] if best else None,  # regressors: spread of predict's year distribution
        "validated_on": {"split": "valid", "images": best["n"] if best else None, "export": str(export.root),
                         "database": export.database, "sources": sources},
        **extra, "best_epoch": best and best["epoch"], "code_version": CODE_VERSION, "train": config.to_json()})


def write_json(path: Path, data: dict) -> None:
    """Write atomically (temp file + rename) so a killed run never leaves half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)


def save_weights(model: nn.Module, path: Path) -> None:
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, path)


def save_checkpoint(state: dict, run_dir: Path) -> None:
    tmp = run_dir / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, run_dir / CHECKPOINT)


def load_checkpoint(run_dir: Path) -> dict | None:
    path = run_dir / CHECKPOINT
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def write_history(path: Path, history: list[dict]) -> None:
    if not history:
        return
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.dict_writer(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)


def read_history(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_run_config(run_dir: str | Path) -> dict:
    """config.json of a finished run; NoRun if the directory, its config or its weights are missing."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise NoRun(f"No run directory at {run_dir}. {_FIX}")
    for name in (CONFIG, WEIGHTS):
        if not (run_dir / name).is_file():
            raise NoRun(f"{run_dir} has no {name}, so it is not a finished run. {_FIX}")
    try:
        config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
        for key in ("arch", "task", "num_classes", "bins", "year_range", "img_size", "mean", "std"):
            config[key]  # noqa: B018 - presence check
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise NoRun(f"{run_dir / CONFIG} is malformed ({type(exc).__name__}: {exc}). {_FIX}") from None
    return config


def read_metrics(run_dir: str | Path) -> dict:
    path = Path(run_dir) / METRICS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_run_model(run_dir: str | Path, config: dict | None = None) -> tuple[nn.Module, dict]:
    """The trained model (eval mode, CPU) and its config."""
    import timm

    run_dir = Path(run_dir)
    config = config or read_run_config(run_dir)
    outputs = config["num_classes"] if config["task"] == "classify" else 1
    model = timm.create_model(config["arch"], pretrained=False, num_classes=outputs)
    try:
        model.load_state_dict(load_file(str(run_dir / WEIGHTS)), strict=True)
    except (RuntimeError, OSError) as exc:
        raise NoRun(f"{run_dir / WEIGHTS} does not fit {config['arch']} ({str(exc)[:160]}). {_FIX}") from None
    return model.eval(), config
