"""Turn model outputs into years, bins and intervals; build soft targets. Pure numpy functions.

A classifier's bin probabilities are read as a piecewise-uniform density over years (each bin spread
evenly over its span); a regressor's year becomes a Gaussian with the validation residual spread.
`decode_outputs` is the only place raw outputs become the years and bins that training, evaluation,
prediction and the app report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


@dataclass(frozen=True)
class Decoded:
    probs: np.ndarray  # (N, K) bin probabilities; a regressor's are Normal(year, sigma) mass per bin
    years: np.ndarray  # (N,) expected year (classifier) or predicted year clipped into the bins (regressor)
    bins: np.ndarray  # (N,) most probable bin (classifier) or the bin holding the year (regressor)
    sigma: float | None  # the regressor's residual spread in years; None for a classifier


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, stable for large values.

    >>> softmax(np.array([[0.0, math.log(3.0)]])).round(3).tolist()
    [[0.25, 0.75]]
    """
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def decode_outputs(outputs: np.ndarray, task: str, edges, year_range, sigma: float | None = None) -> Decoded:
    """Raw model outputs (N, K) -> probabilities, years and bins.

    Classifiers: softmax, the most probable bin and the expected year over bin centres. Regressors: the
    output is the year scaled to year_range, clipped into it; its bin holds it; `sigma` (default a tenth
    of the range) spreads it over the bins.

    >>> d = decode_outputs(np.array([[0.0, 0.0]]), "classify", [1900, 1920, 1940], (1900, 1940))
    >>> d.years.tolist(), d.bins.tolist()
    ([1920.0], [0])
    >>> decode_outputs(np.array([[0.25]]), "regress", [1900, 1920, 1940], (1900, 1940)).years.tolist()
    [1910.0]
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if task == "classify":
        probs = softmax(outputs)
        return Decoded(probs=probs, years=expected_year(probs, edges), bins=probs.argmax(axis=1), sigma=None)
    lo, hi = year_range
    years = denormalise_year(np.clip(outputs[:, 0], 0.0, 1.0), year_range)
    spread = float(sigma) if sigma else (hi - lo) / 10.0
    probs = np.stack([gaussian_bin_probs(y, spread, edges) for y in years]) if len(years) else np.zeros((0, len(edges) - 1))
    return Decoded(probs=probs, years=years, bins=year_to_bin(years, edges), sigma=spread)


def year_interval(decoded: Decoded, row: int, edges, year_range, level: float = 0.8) -> tuple[float, float]:
    """The central `level` interval of one decoded row: bin quantiles, or year +- z*sigma within the range."""
    if decoded.sigma is None:
        return interval(decoded.probs[row], edges, level)
    lo, hi = year_range
    half = NormalDist().inv_cdf((1.0 + level) / 2.0) * decoded.sigma
    year = float(decoded.years[row])
    return max(lo, year - half), min(hi, year + half)


def bin_centres(edges: tuple[int, ...] | list[int]) -> np.ndarray:
    """Midpoints of [edges[i], edges[i+1]).

    >>> bin_centres([1860, 1880, 1900]).tolist()
    [1870.0, 1890.0]
    """
    e = np.asarray(edges)
    return (e[:-1] + e[1:]) / 2.0


def expected_year(probs: np.ndarray, edges) -> np.ndarray:
    """The expected year under bin probabilities (N, K) -> (N,)."""
    return np.asarray(probs) @ bin_centres(edges)  # float64: the centres are


def year_to_bin(years, edges) -> np.ndarray:
    """Bin index of each year, clipped into the first/last bin.

    >>> year_to_bin([1850, 1879.9, 1880, 2000], [1860, 1880, 1900]).tolist()
    [0, 0, 1, 1]
    """
    return np.clip(np.searchsorted(np.asarray(edges), np.asarray(years), side="right") - 1, 0, len(edges) - 2)


def quantile_year(probs: np.ndarray, edges, q: float) -> float:
    """The q-quantile year of one probability vector, bins spread uniformly over their spans."""
    p = np.asarray(probs, dtype=np.float64)
    p = p / p.sum()
    cdf = np.concatenate([[0.0], np.cumsum(p)])
    # the bin where the cdf first reaches q (searchsorted's default side, "left"); a cdf that sums to just
    # under 1 puts q = 1 past the last bin, so clip to it
    i = int(np.clip(np.searchsorted(cdf, q) - 1, 0, len(p) - 1))
    inside = (q - cdf[i]) / p[i] if p[i] > 0 else 0.5  # never negative for q in [0, 1]; past 1 only by rounding
    return float(edges[i] + min(inside, 1.0) * (edges[i + 1] - edges[i]))


def interval(probs: np.ndarray, edges, level: float = 0.8) -> tuple[float, float]:
    """The central `level` interval of one probability vector."""
    tail = (1.0 - level) / 2.0
    return quantile_year(probs, edges, tail), quantile_year(probs, edges, 1.0 - tail)


def gaussian_bin_probs(year: float, sigma: float, edges) -> np.ndarray:
    """Probability mass of Normal(year, sigma) in each bin, the tails folded into the end bins."""
    sigma = max(float(sigma), 1e-6)
    cdf = np.array([0.5 * (1.0 + math.erf((x - year) / (sigma * math.sqrt(2.0)))) for x in edges])
    cdf[0], cdf[-1] = 0.0, 1.0
    return np.diff(cdf)


def soft_targets(bin_indices: np.ndarray, num_bins: int, sigma: float) -> np.ndarray:
    """Gaussian soft labels over neighbouring bins (sigma in bins), rows summing to 1.

    >>> soft_targets(np.array([1]), 3, 0.5).round(3).tolist()
    [[0.107, 0.787, 0.107]]
    """
    j = np.arange(num_bins)[None, :]
    weights = np.exp(-((j - np.asarray(bin_indices)[:, None]) ** 2) / (2.0 * sigma**2))
    return weights / weights.sum(axis=1, keepdims=True)


def normalise_year(years, year_range: tuple[float, float]):
    lo, hi = year_range
    return (years - lo) / (hi - lo)


def denormalise_year(values, year_range: tuple[float, float]):
    lo, hi = year_range
    return values * (hi - lo) + lo
