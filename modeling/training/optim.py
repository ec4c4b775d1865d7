"""AdamW with a lower backbone LR, warm-up then cosine (or one-cycle), and a frozen first epoch."""

from __future__ import annotations

import math

import torch
from torch import nn

from modeling.models import split_parameters
from modeling.training.config import TrainConfig

MIN_FACTOR = 0.01  # the cosine ends at 1% of the peak rate


def schedule_factor(step: int, total: int, warmup_frac: float, schedule: str) -> float:
    """The LR multiplier at `step` of `total`: linear warm-up, then cosine down to MIN_FACTOR.

    >>> round(schedule_factor(0, 100, 0.1, "cosine"), 3), round(schedule_factor(99, 100, 0.1, "cosine"), 3)
    (0.1, 0.01)
    """
    if schedule == "onecycle":
        warmup_frac = 0.3
    warmup = max(1, int(round(warmup_frac * total)))
    if step < warmup:
        start = 1 / 25 if schedule == "onecycle" else 0.0
        return start + (1.0 - start) * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup - 1))
    return MIN_FACTOR + (1.0 - MIN_FACTOR) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, config: TrainConfig, lr: float, steps_per_epoch: int):
    """AdamW over (backbone, head) groups and a LambdaLR whose backbone factor is 0 while frozen."""
    backbone, head = split_parameters(model)
    backbone_lr = lr * (config.backbone_lr_mult if config.fine_tune else 1.0)
    optimizer = torch.optim.AdamW([{"params": backbone, "lr": backbone_lr, "name": "backbone"},
                                   {"params": head, "lr": lr, "name": "head"}], weight_decay=config.weight_decay)
    total = config.epochs * steps_per_epoch
    frozen_steps = frozen_epochs(config) * steps_per_epoch

    def head_factor(step: int) -> float:
        return schedule_factor(step, total, config.warmup_frac, config.schedule)

    def backbone_factor(step: int) -> float:
        return 0.0 if step < frozen_steps else head_factor(step)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, [backbone_factor, head_factor])
    return optimizer, scheduler


def frozen_epochs(config: TrainConfig) -> int:
    """Epochs with a frozen backbone: only when fine-tuning, and never the whole run."""
    return min(config.freeze_epochs, config.epochs - 1) if config.fine_tune else 0


def set_backbone_trainable(model: nn.Module, trainable: bool) -> None:
    backbone, _ = split_parameters(model)
    for param in backbone:
        param.requires_grad_(trainable)
