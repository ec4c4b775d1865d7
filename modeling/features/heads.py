"""Linear heads on frozen features, fitted in seconds on a CPU.

Classification (cross-entropy or soft labels, the training losses of modeling.training.setup.make_loss)
and regression (L1/Huber by the same losses, or closed-form ridge) on standardised features. The fitted
head is folded back onto the raw pooled features, so it drops into the timm model's classifier and the
run directory works with evaluate, predict and the app unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from modeling.decode import normalise_year
from modeling.training.config import TrainConfig
from modeling.training.data import Export, ExportRow
from modeling.training.setup import make_loss

# LBFGS iterations of the full-batch fit: on 200 real photographs 30 gave the same CV metrics as 200.
MAX_ITERATIONS = 50


@dataclass(frozen=True)
class LinearHead:
    weight: np.ndarray  # (K, D) on raw pooled features (K = bins, or 1 for a regressor's normalised year)
    bias: np.ndarray  # (K,)

    def outputs(self, features: np.ndarray) -> np.ndarray:
        """Raw model outputs (N, K), as the timm classifier would give them; decode with decode_outputs."""
        return np.asarray(features, dtype=np.float64) @ self.weight.T + self.bias

    def load_into(self, model: nn.Module) -> None:
        """Copy this head into the model's classifier (a Linear over the pooled features)."""
        classifier = model.get_classifier()
        if tuple(classifier.weight.shape) != self.weight.shape:
            raise ValueError(f"head {self.weight.shape} does not fit classifier {tuple(classifier.weight.shape)}")
        with torch.no_grad():
            classifier.weight.copy_(torch.from_numpy(self.weight).float())
            classifier.bias.copy_(torch.from_numpy(self.bias).float())


def fit_head(features: np.ndarray, rows: list[ExportRow], config: TrainConfig, export: Export) -> LinearHead:
    """Fit the head `config` asks for (task, loss, head_l2) on `features` (N, D) of `rows`."""
    x = np.asarray(features, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    if config.loss_name == "ridge":
        weight, bias = _ridge(z, normalise_year(np.array([r.year for r in rows]), export.year_range), config.head_l2)
    else:
        weight, bias = _gradient_fit(z, rows, config, export)
    folded = weight / scale  # w.(x - m)/s + b == (w/s).x + (b - (w/s).m)
    return LinearHead(weight=folded, bias=bias - folded @ mean)


def _ridge(z: np.ndarray, target: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form ridge on centred targets; penalty l2 * N so its strength does not depend on the sample size."""
    n, d = z.shape
    centre = float(target.mean())
    y = target - centre
    penalty = l2 * n
    if d <= n:
        w = np.linalg.solve(z.T @ z + penalty * np.eye(d), z.T @ y)
    else:  # the dual form is the cheaper solve when there are fewer images than features
        w = z.T @ np.linalg.solve(z @ z.T + penalty * np.eye(n), y)
    return w[None, :], np.array([centre])


def _gradient_fit(z: np.ndarray, rows: list[ExportRow], config: TrainConfig, export: Export):
    torch.manual_seed(config.seed)
    outputs = export.num_bins if config.task == "classify" else 1
    inputs = torch.from_numpy(z).float()
    bins = torch.tensor([r.bin_index for r in rows], dtype=torch.long)
    years = torch.tensor([r.year for r in rows], dtype=torch.float32)
    linear = nn.Linear(z.shape[1], outputs)
    nn.init.zeros_(linear.weight)
    with torch.no_grad():
        start = float(normalise_year(years, export.year_range).mean()) if config.task == "regress" else 0.0
        linear.bias.fill_(start)
    loss_fn = make_loss(config, export, rows)
    optimizer = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=MAX_ITERATIONS,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-6)

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(linear(inputs), bins, years) + config.head_l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a linear layer is too small to split: on a busy CPU, threads wait on each other
    try:
        optimizer.step(closure)
    finally:
        torch.set_num_threads(threads)
    return linear.weight.detach().double().numpy(), linear.bias.detach().double().numpy()
