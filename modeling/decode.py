"""Turn model outputs into years, bins and intervals; build soft targets. Pure numpy functions.

A classifier's bin probabilities are read as a piecewise-uniform density over years (each bin spread
evenly over its span); a regressor's year becomes a Gaussian with the validation residual spread.
"""

from __future__ import annotations

import math

import numpy as np


def bin_centres(edges: tuple[int, ...] | list[int]) -> np.ndarray:
    """Midpoints of [edges[i], edges[i+1]).

    >>> bin_centres([1860, 1880, 1900]).tolist()
    [1870.0, 1890.0]
    """
    e = np.asarray(edges, dtype=np.float64)
    return (e[:-1] + e[1:]) / 2.0


def expected_year(probs: np.ndarray, edges) -> np.ndarray:
    """The expected year under bin probabilities (N, K) -> (N,)."""
    return np.asarray(probs, dtype=np.float64) @ bin_centres(edges)


def year_to_bin(years, edges) -> np.ndarray:
    """Bin index of each year, clipped into the first/last bin.

    >>> year_to_bin([1850, 1879.9, 1880, 2000], [1860, 1880, 1900]).tolist()
    [0, 0, 1, 1]
    """
    e = np.asarray(edges, dtype=np.float64)
    return np.clip(np.searchsorted(e, np.asarray(years, dtype=np.float64), side="right") - 1, 0, len(e) - 2)


def quantile_year(probs: np.ndarray, edges, q: float) -> float:
    """The q-quantile year of one probability vector, bins spread uniformly over their spans."""
    e = np.asarray(edges, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    p = p / p.sum()
    cdf = np.concatenate([[0.0], np.cumsum(p)])
    i = int(np.clip(np.searchsorted(cdf, q, side="left") - 1, 0, len(p) - 1))
    inside = (q - cdf[i]) / p[i] if p[i] > 0 else 0.5
    return float(e[i] + np.clip(inside, 0.0, 1.0) * (e[i + 1] - e[i]))


def interval(probs: np.ndarray, edges, level: float = 0.8) -> tuple[float, float]:
    """The central `level` interval of one probability vector."""
    tail = (1.0 - level) / 2.0
    return quantile_year(probs, edges, tail), quantile_year(probs, edges, 1.0 - tail)


def gaussian_bin_probs(year: float, sigma: float, edges) -> np.ndarray:
    """Probability mass of Normal(year, sigma) in each bin, the tails folded into the end bins."""
    e = np.asarray(edges, dtype=np.float64)
    sigma = max(float(sigma), 1e-6)
    cdf = np.array([0.5 * (1.0 + math.erf((x - year) / (sigma * math.sqrt(2.0)))) for x in e])
    cdf[0], cdf[-1] = 0.0, 1.0
    return np.diff(cdf)


def soft_targets(bin_indices: np.ndarray, num_bins: int, sigma: float) -> np.ndarray:
    """Gaussian soft labels over neighbouring bins (sigma in bins), rows summing to 1.

    >>> soft_targets(np.array([1]), 3, 0.5).round(3).tolist()
    [[0.107, 0.787, 0.107]]
    """
    j = np.arange(num_bins, dtype=np.float64)[None, :]
    weights = np.exp(-((j - np.asarray(bin_indices, dtype=np.float64)[:, None]) ** 2) / (2.0 * sigma**2))
    return weights / weights.sum(axis=1, keepdims=True)


def normalise_year(years, year_range: tuple[float, float]):
    lo, hi = year_range
    return (years - lo) / (hi - lo)


def denormalise_year(values, year_range: tuple[float, float]):
    lo, hi = year_range
    return values * (hi - lo) + lo
