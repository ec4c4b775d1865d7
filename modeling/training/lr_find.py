"""LR range test (Smith 2015, fastai's lr_find): raise the LR exponentially, watch the loss, pick a rate.

The rule: a tenth of the rate at the smoothed-loss minimum (past it the loss blows up).
The model's weights are restored afterwards.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from db.progress import progress
from modeling.plots import lr_find_png
from modeling.training.config import TrainConfig
from modeling.training.engine import model_input
from modeling.training.setup import Setup, autocast, build


@dataclass(frozen=True)
class LRFindResult:
    lrs: tuple[float, ...]  # learning rate of each step
    losses: tuple[float, ...]  # smoothed (debiased EMA) training loss at each step
    suggestion: float  # the chosen rate: min-loss LR / 10, clipped to [1e-5, 1e-1]
    png: Path | None  # where the curve was saved


def range_test(setup: Setup, start_lr: float = 1e-6, end_lr: float = 1.0, num_iter: int = 60,
               png: Path | None = None, show: bool = True) -> LRFindResult:
    """Run the range test on setup's model and training loader; weights and BN stats are put back."""
    model, device = setup.model, setup.device
    saved = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=start_lr, weight_decay=setup.config.weight_decay)
    gamma = (end_lr / start_lr) ** (1.0 / max(1, num_iter - 1))
    lrs, losses, avg, best = [], [], 0.0, math.inf
    model.train()
    setup.sampler.set_epoch(-1)  # an order of its own; training epochs are untouched
    batches = _cycle(setup.train_loader)
    for step in progress(range(num_iter), desc="lr-find", unit="step", leave=False, enabled=show):
        lr = start_lr * gamma**step
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, bins, years = next(batches)
        images = model_input(images, device, setup.config.channels_last, (setup.mean, setup.std))
        with autocast(device, setup.precision):
            outputs = model(images)
        loss = setup.loss_fn(outputs, bins.to(device), years.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        avg = 0.9 * avg + 0.1 * value
        smoothed = avg / (1 - 0.9 ** (step + 1))
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if step > 5 and smoothed > 4 * best:
            break
    model.load_state_dict(saved)
    suggestion = suggest(lrs, losses)
    if png is not None:
        lr_find_png(lrs, losses, suggestion, png)
    return LRFindResult(lrs=tuple(lrs), losses=tuple(losses), suggestion=suggestion, png=png)


def suggest(lrs: list[float], losses: list[float]) -> float:
    """A tenth of the LR with the lowest smoothed loss, clipped to [1e-5, 1e-1].

    >>> suggest([1e-4, 1e-3, 1e-2], [2.0, 1.0, 3.0])
    0.0001
    """
    if not losses:
        return 1e-3
    best = min(range(len(losses)), key=losses.__getitem__)
    return float(min(1e-1, max(1e-5, lrs[best] / 10)))


def _cycle(loader):
    while True:
        yield from loader


def find_lr(config: TrainConfig, png: Path, num_iter: int = 60, show: bool = True) -> LRFindResult:
    """`cli.py lr-find`: build the model and data of `config`, run the range test, save the PNG."""
    png.parent.mkdir(parents=True, exist_ok=True)
    return range_test(build(config), num_iter=num_iter, png=png, show=show)
