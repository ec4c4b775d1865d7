"""Build everything a training run needs from a TrainConfig: export, model, loaders, loss, device."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from modeling.decode import normalise_year, soft_targets
from modeling.errors import BadTrainingSetup
from modeling.models import create_model, model_normalisation, set_head_bias
from modeling.training.augment import AUGMENT_LEVELS
from modeling.training.config import EVIDENCE, LOSSES, TASKS, TrainConfig
from modeling.training.data import (
    EpochSampler,
    Export,
    PhotoDataset,
    bin_counts,
    rare_bins,
    read_export,
    require_two_bins,
)
from modeling.training.distributed import SINGLE, Dist, ShardedBatchSampler, shard

# Architectures whose CPU training measured faster under bf16 autocast on AMX CPUs (benchmarks/bench_train.py).
CPU_BF16_FAMILIES = ("resnet", "seresnet", "legacy_seresnet", "seresnext", "resnext", "convnext")


@dataclass
class Setup:
    config: TrainConfig  # what was asked
    export: Export  # the data
    model: nn.Module  # on `device`, channels_last if asked
    device: torch.device  # where the model runs
    precision: str  # fp32 | bf16 | fp16 after resolving auto
    mean: tuple[float, ...]  # input normalisation of the model
    std: tuple[float, ...]
    train_loader: DataLoader  # batches of (images, bins, years), order from `sampler` (this process's share)
    valid_loader: DataLoader  # deterministic, in manifest order (this process's every W-th row)
    sampler: EpochSampler  # call set_epoch(e) before each epoch
    loss_fn: Callable  # (outputs, bins, years) -> scalar loss
    dist: Dist  # this process in a torchrun (SINGLE for a plain run)


def validate(config: TrainConfig) -> None:
    checks = [("task", config.task, TASKS), ("loss", config.loss_name, LOSSES.get(config.task, ())),
              ("sampler", config.sampler, ("natural", "balanced")), ("augment", config.augment, AUGMENT_LEVELS),
              ("schedule", config.schedule, ("cosine", "onecycle")),
              ("precision", config.precision, ("auto", "fp32", "bf16", "fp16")),
              ("device", config.device, ("auto", "cpu", "cuda")), ("evidence", config.evidence, EVIDENCE)]
    for name, value, allowed in checks:
        if value not in allowed:
            raise BadTrainingSetup(f"--{name} {value!r} does not fit --task {config.task}; expected one of "
                                   f"{', '.join(allowed)}.")
    if not config.head_only and (config.loss_name == "ridge" or config.cv):
        raise BadTrainingSetup("--loss ridge and --cv fit heads on frozen features: add --head-only (full "
                               "fine-tuning trains one model on the train split).")
    if config.head_select and not config.head_only:
        raise BadTrainingSetup("--head-l2 auto chooses a linear head on frozen features: add --head-only.")
    if config.device == "cuda" and not torch.cuda.is_available():
        raise BadTrainingSetup("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto.")
    if config.epochs < 1 or config.batch_size < 1 or config.img_size < 16:
        raise BadTrainingSetup(f"Expected --epochs >= 1, --batch-size >= 1 and --img-size >= 16; got "
                               f"{config.epochs}, {config.batch_size}, {config.img_size}.")


def resolve_device(name: str) -> torch.device:
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name))


def resolve_precision(precision: str, device: torch.device, arch: str) -> str:
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    amx = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return "bf16" if amx and arch.startswith(CPU_BF16_FAMILIES) else "fp32"


def autocast(device: torch.device, precision: str):
    """The autocast context for `precision` (fp32 = disabled)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    return torch.autocast(device.type, dtype=dtype, enabled=precision in ("bf16", "fp16"))


def make_loss(config: TrainConfig, export: Export, train_rows: list) -> Callable:
    """The loss over raw model outputs; targets are bin indices (classify) or years (regress)."""
    num_bins = export.num_bins
    weights = None
    if config.class_weights:
        counts = np.asarray(bin_counts(train_rows, num_bins), dtype=np.float64)
        inverse = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max(1, (counts > 0).sum()), 0.0)
        weights = torch.tensor(inverse, dtype=torch.float32)
    if config.task == "regress":
        year_range = export.year_range

        def regress_loss(outputs, bins, years):
            target = normalise_year(years.float(), year_range)
            pred = outputs.float().squeeze(1)
            return F.l1_loss(pred, target) if config.loss_name == "l1" else F.smooth_l1_loss(pred, target, beta=0.05)

        return regress_loss
    if config.loss_name == "ce":
        def ce_loss(outputs, bins, years):
            w = None if weights is None else weights.to(outputs.device)
            return F.cross_entropy(outputs.float(), bins, weight=w, label_smoothing=config.label_smoothing)

        return ce_loss
    table = torch.tensor(soft_targets(np.arange(num_bins), num_bins, config.soft_sigma), dtype=torch.float32)
    table = (1 - config.label_smoothing) * table + config.label_smoothing / num_bins

    def soft_loss(outputs, bins, years):
        per_sample = -(table.to(outputs.device)[bins] * F.log_softmax(outputs.float(), dim=1)).sum(dim=1)
        if weights is None:
            return per_sample.mean()
        w = weights.to(outputs.device)[bins]
        return (per_sample * w).sum() / w.sum()

    return soft_loss


def build(config: TrainConfig, dist: Dist = SINGLE) -> Setup:
    """Read the export and make the model, loaders and loss; seeds torch first so init is reproducible.

    Under torchrun (`dist`), each process loads its share of every batch and of the valid split.
    """
    validate(config)
    export = read_export(config.data)
    train_rows, valid_rows = export.split("train"), export.split("valid")
    require_two_bins(export, train_rows)
    if not valid_rows:
        raise BadTrainingSetup(f"Found 0 valid rows in {config.data}/manifest.csv; training needs a valid split "
                               f"to pick the best epoch. Re-run 'cli.py export' with a valid fraction > 0.")
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    outputs = export.num_bins if config.task == "classify" else 1
    model = create_model(config.arch, outputs, pretrained=config.pretrained and config.weights is None,
                         weights=config.weights)
    if config.task == "regress":
        years = np.asarray([row.year for row in train_rows], dtype=np.float64)
        set_head_bias(model, float(normalise_year(years, export.year_range).mean()))
    mean, std = model_normalisation(model)
    model = model.to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    strong = rare_bins(train_rows, export.num_bins) if config.augment_rare else frozenset()
    # uint8 through the loader, finished on the device (engine.model_input): the workers only decode and crop.
    train_set = PhotoDataset(export.root, train_rows, config.img_size, mean, std, config.augment, strong,
                             pixels="uint8")
    valid_set = PhotoDataset(export.root, shard(valid_rows, dist), config.img_size, mean, std, "none",
                             pixels="uint8")
    train_bins = [row.bin_index for row in train_rows]
    sampler = EpochSampler(train_bins, config.sampler, config.seed)
    loader_args = {"num_workers": config.workers, "pin_memory": device.type == "cuda",
                   "persistent_workers": config.workers > 0}
    if config.workers > 0:
        loader_args["prefetch_factor"] = 4
    train_loader = DataLoader(train_set, batch_sampler=ShardedBatchSampler(sampler, config.batch_size, dist),
                              **loader_args)
    valid_loader = DataLoader(valid_set, batch_size=config.batch_size * 2, shuffle=False, **loader_args)
    return Setup(config=config, export=export, model=model, device=device,
                 precision=resolve_precision(config.precision, device, config.arch), mean=mean, std=std,
                 train_loader=train_loader, valid_loader=valid_loader, sampler=sampler,
                 loss_fn=make_loss(config, export, train_rows), dist=dist)

