"""The loops: one training epoch, and inference over a loader (outputs decoded to bins and years)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from db.progress import progress
from modeling.training.augment import finish
from modeling.training.setup import autocast

# Steps between progress-bar updates (each one waits for the device).
BAR_EVERY = 10
# (mean, std) of the model's input normalisation
Normalisation = tuple[tuple[float, ...], tuple[float, ...]]


def model_input(images, device: torch.device, channels_last: bool,
                normalisation: Normalisation | None = None) -> torch.Tensor:
    """A loader's image batch as the model takes it, on `device`.

    A float batch is moved; a uint8 batch (pixels, params) from PhotoDataset(pixels="uint8") is moved as
    bytes and finished there (augment.finish: jitter, grain, normalisation), so a GPU does the float work.
    """
    if isinstance(images, (list, tuple)):
        if normalisation is None:
            raise ValueError("a uint8 batch needs the model's (mean, std) to be finished")
        pixels, params = (t.to(device, non_blocking=True) for t in images)
        images = finish(pixels, params, *normalisation)
    else:
        images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def train_epoch(model: nn.Module, loader, optimizer, scheduler, loss_fn: Callable, device: torch.device,
                precision: str, channels_last: bool, scaler=None, desc: str = "train", show: bool = True,
                normalisation: Normalisation | None = None) -> dict:
    """One pass; returns mean loss, images, images/s and seconds. The bar shows loss and images/s.

    The loss is summed on the device and read back only every BAR_EVERY steps: reading it each step
    would make the CPU wait for the GPU, and the next batch could not be prepared meanwhile.
    """
    model.train()
    total, seen, start = torch.zeros((), dtype=torch.float64, device=device), 0, time.perf_counter()
    bar = progress(loader, desc=desc, unit="batch", leave=False, enabled=show, dynamic_ncols=True)
    for step, (images, bins, years) in enumerate(bar, start=1):
        images = model_input(images, device, channels_last, normalisation)
        bins, years = bins.to(device, non_blocking=True), years.to(device, non_blocking=True)
        with autocast(device, precision):
            outputs = model(images)
        loss = loss_fn(outputs, bins, years)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        total += loss.detach().double() * len(images)
        seen += len(images)
        if show and step % BAR_EVERY == 0:
            bar.set_postfix(loss=f"{float(total) / seen:.4f}", img_s=f"{seen / (time.perf_counter() - start):.1f}")
    total_loss = float(total)  # waits for the last step
    seconds = time.perf_counter() - start
    return {"loss": total_loss / max(seen, 1), "images": seen, "images_per_s": seen / max(seconds, 1e-9),
            "seconds": seconds}


@torch.inference_mode()
def infer(model: nn.Module, loader, loss_fn: Callable | None, device: torch.device, precision: str,
          channels_last: bool, show: bool = False, desc: str = "valid",
          normalisation: Normalisation | None = None) -> dict:
    """Raw outputs (N, K), true bins and years, and the mean loss over a loader."""
    model.eval()
    outputs, bins_all, years_all, total_loss = [], [], [], 0.0
    for images, bins, years in progress(loader, desc=desc, unit="batch", leave=False, enabled=show):
        images = model_input(images, device, channels_last, normalisation)
        with autocast(device, precision):
            out = model(images)
        out = out.float()
        if loss_fn is not None:
            total_loss += float(loss_fn(out, bins.to(device), years.to(device))) * len(images)
        outputs.append(out.cpu().numpy())
        bins_all.append(bins.numpy())
        years_all.append(years.numpy())
    n = sum(len(b) for b in bins_all)
    return {"outputs": np.concatenate(outputs) if outputs else np.zeros((0, 1), np.float32),
            "bins": np.concatenate(bins_all) if bins_all else np.zeros(0, int),
            "years": np.concatenate(years_all) if years_all else np.zeros(0, np.float32),
            "loss": total_loss / max(n, 1)}
