"""`cli.py train`: fine-tune or train a timm model on an export and write a run directory.

Each finished epoch writes RUN_DIR/checkpoint.pt (model, optimiser, scheduler, RNG states, history);
--resume reloads it and, because data order and augmentation derive from (seed, epoch), ends with the
same weights and history as an uninterrupted run.

Under torchrun every process runs this loop on its share of each batch (modeling/training/distributed.py);
rank 0 alone writes the run directory and shows the bar, and its checkpoint is what --resume hands to all.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from modeling.baselines import with_baselines
from modeling.decode import decode_outputs
from modeling.errors import BadTrainingSetup
from modeling.metrics import summarize
from modeling.plots import confusion_png, curves_png
from modeling.runs import (
    HISTORY,
    METRICS,
    WEIGHTS,
    load_checkpoint,
    save_checkpoint,
    save_weights,
    write_history,
    write_json,
    write_run_config,
)
from modeling.training import distributed
from modeling.training.config import RESUME_FREE_FIELDS, TrainConfig
from modeling.training.distributed import Dist
from modeling.training.engine import infer, train_epoch
from modeling.training.lr_find import range_test
from modeling.training.optim import frozen_epochs, make_optimizer, set_backbone_trainable
from modeling.training.setup import Setup, build, resolve_device


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path  # where everything was written
    lr: float  # the peak (head) learning rate used
    lr_png: Path | None  # the LR range-test curve, with --lr auto
    history: tuple[dict, ...]  # one row per epoch, as in history.csv
    best: dict  # metrics.json: the best epoch's valid metrics
    seconds: float  # wall time of this invocation
    resumed_from: int | None  # epochs already done when --resume picked the run up
    main: bool = True  # False on torchrun's other processes: only rank 0 reports
    embedding: object = None  # head-only: the features.embed.Embedding (computed vs reused, seconds)
    cv: object = None  # head-only with --cv: the features.cv.CVResult
    evidence: object = None  # head-only with --cv and catalogue text: the evidence.fit.EvidenceCV (ablation)


def train(config: TrainConfig, *, show: bool = True,
          on_epoch_end: Callable[[int], None] | None = None,
          on_lr: Callable[[float, Path], None] | None = None,
          on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Train per `config`; `on_epoch_end(epoch)` runs after each checkpoint (tests use it to kill a run).

    So that a long run says what it does as it goes, `on_lr(lr, png)` hears the learning rate --lr auto
    chose as soon as it is chosen and `on_epoch(row)` each epoch's history row once its checkpoint is
    written (rank 0 only). --head-only fits a linear head on frozen, cached features (modeling/features). Started by torchrun,
    full training joins its process group for the run (DistributedDataParallel) and leaves it after.
    """
    if config.head_only:
        from modeling.features.run import train_head_only

        return train_head_only(config, show=show)
    dist = distributed.start(resolve_device(config.device))
    try:
        result = _train(config, dist, show=show and dist.is_main, on_epoch_end=on_epoch_end,
                        on_lr=on_lr if dist.is_main else None, on_epoch=on_epoch if dist.is_main else None)
    except BaseException:
        distributed.abandon(dist)
        raise
    distributed.stop(dist)
    return result


def _train(config: TrainConfig, dist: Dist, *, show: bool, on_epoch_end: Callable[[int], None] | None,
           on_lr: Callable[[float, Path], None] | None, on_epoch: Callable[[dict], None] | None) -> TrainResult:
    start = time.perf_counter()
    run_dir = Path(config.out)
    checkpoint = _shared_checkpoint(config, run_dir, dist)
    setup = build(config, dist)
    writes = dist.is_main  # rank 0 alone writes the run directory
    if writes:
        run_dir.mkdir(parents=True, exist_ok=True)
    lr, lr_png = config.lr, None
    if checkpoint is not None:
        lr = checkpoint["lr"]
    elif lr is None:
        lr_png = run_dir / "lr_find.png"
        lr = distributed.broadcast(range_test(setup, png=lr_png, show=show).suggestion if writes else None, dist)
        if on_lr is not None:
            on_lr(lr, lr_png)
    steps = len(setup.train_loader)
    optimizer, scheduler = make_optimizer(setup.model, config, lr, steps)
    scaler = torch.amp.GradScaler("cuda") if setup.precision == "fp16" and setup.device.type == "cuda" else None
    history, best, first_epoch = [], None, 0
    if checkpoint is not None:
        setup.model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        if scaler is not None and checkpoint.get("scaler"):
            scaler.load_state_dict(checkpoint["scaler"])
        history, best, first_epoch = list(checkpoint["history"]), checkpoint["best"], checkpoint["epoch"]
        _set_rng_state(checkpoint["rng"])
    model = distributed.wrap(setup.model, dist, setup.device, unused_parameters=frozen_epochs(config) > 0)
    if writes:
        _write_config(setup, lr, run_dir, best)
    for epoch in range(first_epoch, config.epochs):
        setup.sampler.set_epoch(epoch)
        set_backbone_trainable(setup.model, epoch >= frozen_epochs(config))
        stats = train_epoch(model, setup.train_loader, optimizer, scheduler, setup.loss_fn, setup.device,
                            setup.precision, config.channels_last, scaler,
                            desc=f"epoch {epoch + 1}/{config.epochs}", show=show,
                            normalisation=(setup.mean, setup.std))
        stats = distributed.reduce_train_stats(stats, dist)
        metrics, valid_loss = _validate(setup)
        history.append({"epoch": epoch + 1, "train_loss": round(stats["loss"], 6), "valid_loss": round(valid_loss, 6),
                        "valid_accuracy": round(metrics["accuracy"], 6),
                        "valid_balanced_accuracy": round(metrics["balanced_accuracy"], 6),
                        "valid_mae": round(metrics["mae"], 4), "valid_within_10": round(metrics["within_10"], 6),
                        "lr": f"{optimizer.param_groups[1]['lr']:.3e}",
                        "images_per_s": round(stats["images_per_s"], 1), "seconds": round(stats["seconds"], 2)})
        improved = best is None or _score(config.task, metrics, valid_loss) > _score(config.task, best,
                                                                                      best["valid_loss"])
        if improved:
            best = {"epoch": epoch + 1, "split": "valid", "valid_loss": valid_loss,
                    "selected_by": "balanced_accuracy" if config.task == "classify" else "mae", **metrics}
        if writes:
            _write_epoch(setup, run_dir, history, best if improved else None, {
                "epoch": epoch + 1, "config": config.to_json(), "lr": lr, "history": history, "best": best,
                "model": setup.model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else None,
                "rng": _get_rng_state()})
        if on_epoch is not None:
            on_epoch(history[-1])
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1)
    if writes:
        _write_config(setup, lr, run_dir, best)
        confusion_png(best["confusion_matrix"], best["labels"], run_dir / "confusion_matrix.png",
                      title=f"valid, epoch {best['epoch']} (rows = actual)")
        curves_png(history, run_dir / "curves.png")
    return TrainResult(run_dir=run_dir, lr=lr, lr_png=lr_png, history=tuple(history), best=best,
                       seconds=time.perf_counter() - start,
                       resumed_from=checkpoint["epoch"] if checkpoint is not None else None, main=dist.is_main)


def _write_epoch(setup: Setup, run_dir: Path, history: list[dict], improved: dict | None, checkpoint: dict) -> None:
    # Weights and metrics.json when the epoch is the best so far; history and checkpoint after every epoch.
    if improved is not None:
        save_weights(setup.model, run_dir / WEIGHTS)
        write_json(run_dir / METRICS, improved)
    write_history(run_dir / HISTORY, history)
    save_checkpoint(checkpoint, run_dir)


def _shared_checkpoint(config: TrainConfig, run_dir: Path, dist: Dist) -> dict | None:
    # Rank 0 reads (and judges) the run directory; every process gets its checkpoint, or its refusal.
    found, refusal = None, None
    if dist.is_main:
        try:
            found = _existing_checkpoint(config, run_dir)
        except BadTrainingSetup as exc:
            refusal = str(exc)
    found, refusal = distributed.broadcast((found, refusal), dist)
    if refusal is not None:
        raise BadTrainingSetup(refusal)
    return found


def _existing_checkpoint(config: TrainConfig, run_dir: Path) -> dict | None:
    checkpoint = load_checkpoint(run_dir) if run_dir.is_dir() else None
    if checkpoint is None:
        return None
    if not config.resume:
        raise BadTrainingSetup(f"{run_dir} already holds a run (checkpoint.pt, {checkpoint['epoch']} epoch(s) done); "
                               f"pass --resume to continue it, or choose another --out.")
    theirs, ours = checkpoint["config"], config.to_json()
    changed = [k for k in ours if k not in RESUME_FREE_FIELDS and theirs.get(k) != ours[k]]
    if changed:
        raise BadTrainingSetup(f"--resume with different options than the run in {run_dir}: "
                               + ", ".join(f"{k} {theirs.get(k)!r} -> {ours[k]!r}" for k in changed)
                               + ". Use the original options, or another --out for a new run.")
    return checkpoint


def _validate(setup: Setup) -> tuple[dict, float]:
    out = distributed.gather_inference(infer(setup.model, setup.valid_loader, setup.loss_fn, setup.device,
                                             setup.precision, setup.config.channels_last,
                                             normalisation=(setup.mean, setup.std)), setup.dist)
    export = setup.export
    decoded = decode_outputs(out["outputs"], setup.config.task, export.edges, export.year_range)
    pred_bins, pred_years = decoded.bins, decoded.years
    metrics = summarize(out["bins"], pred_bins, out["years"], pred_years, export.labels)
    return with_baselines(metrics, export.split("train"), export.split("valid"), export.edges, export.labels), out["loss"]


def _score(task: str, metrics: dict, valid_loss: float) -> tuple:
    return (metrics["balanced_accuracy"], -valid_loss) if task == "classify" else (-metrics["mae"], -valid_loss)


def _write_config(setup: Setup, lr: float, run_dir: Path, best: dict | None) -> None:
    write_run_config(run_dir, setup.config, setup.export, setup.mean, setup.std, best, lr=lr,
                     precision=setup.precision, device=str(setup.device))


def _get_rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
