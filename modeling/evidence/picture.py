"""The picture source: the run's head on frozen backbone features, its out-of-fold years from cross-validation.

modeling.features.cv.cross_validate fits a head per fold (the same folds every source uses); its raw
outputs decode to years with modeling.decode, the one place outputs become years. At prediction time
the run's own model (its head fitted on the train split) gives the year.
"""

from __future__ import annotations

import numpy as np

from modeling.decode import decode_outputs
from modeling.evidence.base import Estimates


def picture_estimates(outputs: np.ndarray, task: str, edges, year_range) -> Estimates:
    """Years from a head's raw outputs (N, K); every record with a picture is present, variance 1."""
    years = decode_outputs(outputs, task, edges, year_range).years
    n = len(years)
    return Estimates(np.asarray(years, dtype=float), np.ones(n), np.ones(n, dtype=bool))


def picture_years(years: list[float | None]) -> Estimates:
    """Estimates from per-record picture years (None where a record has no picture)."""
    present = np.array([y is not None for y in years], dtype=bool)
    return Estimates(np.array([y if y is not None else 0.0 for y in years], dtype=float), np.ones(len(years)),
                     present)
