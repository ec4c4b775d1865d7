"""What every evidence source gives: per record a year, a variance (its own uncertainty), or nothing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOURCES = ("picture", "text", "explicit_date", "holder", "place", "people")  # the names ablation tables and Answers use


@dataclass(frozen=True)
class Estimates:
    """One source's say on N records; where `present` is False the source has nothing to say."""

    year: np.ndarray  # (N,) the source's year (undefined where absent)
    var: np.ndarray  # (N,) the source's own relative variance; the fusion scales it by a factor fitted out-of-fold
    present: np.ndarray  # (N,) bool: the source speaks for this record

    @classmethod
    def absent(cls, n: int) -> Estimates:
        return cls(np.zeros(n), np.ones(n), np.zeros(n, dtype=bool))

    def take(self, at: np.ndarray) -> Estimates:
        return Estimates(self.year[at], self.var[at], self.present[at])

    def put(self, at: np.ndarray, part: Estimates) -> None:
        """Write `part` into rows `at` (used to assemble out-of-fold estimates fold by fold)."""
        self.year[at], self.var[at], self.present[at] = part.year, part.var, part.present

