"""Fuse the sources' estimates into one year and a calibrated interval, from out-of-fold predictions only.

Each source's year is first recalibrated linearly (y ~ a + b * year, fitted where it speaks: ridge
models shrink towards the mean, and this undoes it) and its variance scaled by a factor c (the mean
of squared residual over the source's own variance). The fused year is then the precision-weighted
mean of the prior (the archive's mean year and variance) and every source present: a product of
calibrated normal distributions, so a record missing a source simply leaves it out.

The interval is split-conformal on normalised residuals |y - year| / sd, one quantile per source
combination ("picture+text") when it has at least `min_per_combination` out-of-fold records, else the
pooled quantile: in cross-validation, 80% intervals cover about 80% of true years by construction,
and the ablation table shows the measured coverage.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from modeling.evidence.base import SOURCES, Estimates

MIN_PER_COMBINATION = 30  # out-of-fold records a source combination needs for a quantile of its own
MIN_TO_RECALIBRATE = 10  # records a source must speak for before its linear recalibration is fitted
# Pseudo-records at scale 1 added to a source's variance factor: a source that spoke for 2 records and got
# both exactly right must not claim to be infallible (the explicit date's relative variance is in years^2).
SCALE_PRIOR_RECORDS = 2.0
INNER_FOLDS = 5  # folds of the inner cross-fit that gives the conformal scores
POOLED = "*"  # the quantile every combination without its own falls back to
NONE = "none"  # the combination of a record no source speaks for (the prior alone)


@dataclass(frozen=True)
class SourceCalibration:
    intercept: float  # a in y ~ a + b * source year
    slope: float  # b
    scale: float  # c: the source's variance in years^2 is c * its own relative variance


@dataclass(frozen=True)
class Fused:
    year: np.ndarray  # (N,) fused year
    sd: np.ndarray  # (N,) fused standard deviation in years (before the conformal quantile)
    low: np.ndarray  # (N,) interval's lower end, inside year_range
    high: np.ndarray  # (N,) interval's upper end
    combination: tuple[str, ...]  # per record: the sources it used, joined by "+" ("none" for the prior alone)


@dataclass(frozen=True)
class Fusion:
    sources: tuple[str, ...]  # the sources it combines, in SOURCES order
    calibration: dict[str, SourceCalibration]  # per source
    prior_mean: float  # the archive's mean year (the answer with no evidence)
    prior_var: float  # the archive's variance of years
    quantiles: dict[str, float]  # combination (or POOLED) -> conformal quantile of |y - year| / sd
    level: float  # the intervals' intended coverage
    year_range: tuple[int, int]  # intervals are clipped into it (the bins' span)

    def precisions(self, estimates: dict[str, Estimates]) -> dict[str, np.ndarray]:
        """Per source, the precision (1 / years^2) it adds to each record beyond the prior (0 where silent).

        A calibrated source's distribution already holds the archive's prior (a useless source predicts the
        mean year with the archive's variance), so the prior is divided out of each before they multiply:
        it adds 1/(c * var) - 1/prior_var, never below 0. Without that, three uninformative sources would
        count the prior three more times and drag every answer towards the mean year.
        """
        out = {}
        for source in self.sources:
            est = estimates.get(source)
            if est is not None:
                own = 1.0 / np.maximum(self.calibration[source].scale * est.var, 1e-6)
                out[source] = np.where(est.present, np.maximum(own - 1.0 / self.prior_var, 0.0), 0.0)
        return out

    def combine(self, estimates: dict[str, Estimates]) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """(fused year, sd, combination) per record: the prior times each source's calibrated likelihood."""
        n = len(next(iter(estimates.values())).year) if estimates else 0
        prior = 1.0 / self.prior_var
        precision = np.full(n, prior)
        weighted = precision * self.prior_mean
        used = [[] for _ in range(n)]
        for source, extra in self.precisions(estimates).items():
            est, cal = estimates[source], self.calibration[source]
            year = np.where(est.present, cal.intercept + cal.slope * est.year, 0.0)
            precision = precision + extra
            # natural parameters: the source's (year * own precision) minus the prior's, where it adds anything
            weighted = weighted + np.where(extra > 0, (extra + prior) * year - prior * self.prior_mean, 0.0)
            for i in np.flatnonzero(est.present):
                used[i].append(source)
        combination = tuple("+".join(u) if u else NONE for u in used)
        return weighted / precision, np.sqrt(1.0 / precision), combination

    def quantile(self, combination: str) -> float:
        return self.quantiles.get(combination, self.quantiles[POOLED])

    def apply(self, estimates: dict[str, Estimates]) -> Fused:
        year, sd, combination = self.combine(estimates)
        q = np.array([self.quantile(c) for c in combination])
        lo, hi = self.year_range
        low, high = np.clip(year - q * sd, lo, hi), np.clip(year + q * sd, lo, hi)
        return Fused(np.clip(year, lo, hi), sd, low, high, combination)

    def to_json(self) -> dict:
        return {"sources": list(self.sources), "calibration": {s: asdict(c) for s, c in self.calibration.items()},
                "prior_mean": self.prior_mean, "prior_var": self.prior_var, "quantiles": self.quantiles,
                "level": self.level, "year_range": list(self.year_range)}

    @classmethod
    def from_json(cls, data: dict) -> Fusion:
        return cls(tuple(data["sources"]), {s: SourceCalibration(**c) for s, c in data["calibration"].items()},
                   float(data["prior_mean"]), float(data["prior_var"]), {k: float(v) for k, v in data["quantiles"].items()},
                   float(data["level"]), (int(data["year_range"][0]), int(data["year_range"][1])))


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile: the ceil((n+1) * level)-th smallest score (the largest when n is small).

    >>> conformal_quantile(np.arange(1.0, 10.0), 0.8)
    8.0
    """
    scores = np.sort(np.asarray(scores, dtype=float))
    if not len(scores):
        raise ValueError("a conformal quantile needs at least one score")
    return float(scores[min(math.ceil((len(scores) + 1) * level), len(scores)) - 1])


def normalised_scores(true_years: np.ndarray, year: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Conformal scores of whole true years against intervals rounded outwards to whole years.

    [floor(year - h), ceil(year + h)] holds a whole year y exactly when |y - year| < h + 1, so the score is
    max(|y - year| - 1, 0) / sd: without the 1, rounding alone would push 80% intervals to cover ~90%.
    """
    return np.maximum(np.abs(np.asarray(true_years, dtype=float) - year) - 1.0, 0.0) / sd


def _calibrate(years: np.ndarray, est: Estimates) -> SourceCalibration:
    at = np.flatnonzero(est.present)
    intercept, slope = 0.0, 1.0
    if len(at) >= MIN_TO_RECALIBRATE and np.ptp(est.year[at]) > 0:
        slope, intercept = np.polyfit(est.year[at], years[at], 1)
        slope = float(np.clip(slope, 0.0, 2.0))  # a source never votes backwards
        intercept = float(np.mean(years[at] - slope * est.year[at]))
    residual = years[at] - (intercept + slope * est.year[at])
    scale = (float(np.sum(residual**2 / est.var[at])) + SCALE_PRIOR_RECORDS) / (len(at) + SCALE_PRIOR_RECORDS)
    return SourceCalibration(float(intercept), float(slope), scale)


def _calibrated(years: np.ndarray, estimates: dict[str, Estimates], sources: tuple[str, ...], level: float,
                year_range: tuple[int, int]) -> Fusion:
    """A fusion with its sources calibrated on `years` and a placeholder quantile."""
    return Fusion(sources, {s: _calibrate(years, estimates[s]) for s in sources}, float(years.mean()),
                  max(float(years.var()), 1.0), {POOLED: 1.0}, level, year_range)


def _held_out_scores(years: np.ndarray, estimates: dict[str, Estimates], sources: tuple[str, ...], level: float,
                     year_range: tuple[int, int]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each record's conformal score under calibrations fitted without it (INNER_FOLDS folds): scores of the
    records the calibration was fitted on would be too small, and the intervals too narrow on few records."""
    n = len(years)
    inner = np.arange(n) % INNER_FOLDS
    scores, combination = np.zeros(n), [NONE] * n
    for fold in range(min(INNER_FOLDS, n)):
        train, test = np.flatnonzero(inner != fold), np.flatnonzero(inner == fold)
        if len(train) < 2:
            train = np.arange(n)
        part = _calibrated(years[train], {s: e.take(train) for s, e in estimates.items()}, sources, level, year_range)
        year, sd, combo = part.combine({s: e.take(test) for s, e in estimates.items()})
        scores[test] = normalised_scores(years[test], year, sd)
        for i, c in zip(test, combo, strict=True):
            combination[i] = c
    return scores, tuple(combination)


def fit_fusion(years: np.ndarray, estimates: dict[str, Estimates], sources: tuple[str, ...], level: float,
               year_range: tuple[int, int], min_per_combination: int = MIN_PER_COMBINATION) -> Fusion:
    """Fit the calibrations and the conformal quantiles on out-of-fold `estimates` of records with `years`."""
    years = np.asarray(years, dtype=float)
    sources = tuple(s for s in SOURCES if s in sources and s in estimates and estimates[s].present.any())
    fusion = _calibrated(years, estimates, sources, level, year_range)
    scores, combination = _held_out_scores(years, estimates, sources, level, year_range)
    quantiles = {POOLED: conformal_quantile(scores, level)}
    combos = np.array(combination)
    for combo in sorted(set(combination)):
        at = combos == combo
        if at.sum() >= min_per_combination:
            quantiles[combo] = conformal_quantile(scores[at], level)
    return Fusion(sources, fusion.calibration, fusion.prior_mean, fusion.prior_var, quantiles, level, year_range)


def cross_fit(years: np.ndarray, estimates: dict[str, Estimates], sources: tuple[str, ...], folds: np.ndarray,
              level: float, year_range: tuple[int, int], min_per_combination: int = MIN_PER_COMBINATION) -> Fused:
    """Every record's fused answer from a fusion fitted on the other folds' out-of-fold estimates."""
    n = len(years)
    year, sd, low, high, combination = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), [NONE] * n
    for fold in np.unique(folds):
        train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        fusion = fit_fusion(years[train], {s: e.take(train) for s, e in estimates.items()}, sources, level,
                            year_range, min_per_combination)
        part = fusion.apply({s: e.take(test) for s, e in estimates.items()})
        year[test], sd[test], low[test], high[test] = part.year, part.sd, part.low, part.high
        for i, c in zip(test, part.combination, strict=True):
            combination[i] = c
    return Fused(year, sd, low, high, tuple(combination))
