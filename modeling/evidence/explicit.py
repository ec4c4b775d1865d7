"""The explicit-date source: a date the title or description states ("1932", "en los años 50", "hacia 1940").

Read with the project's own parser (db.dates.find_dates). Of several, the narrowest wins (a year over a
decade; the title over the description on a tie). Open bounds ("antes de 1930") give no year and are
left out. Its variance grows with the phrase's span, so "1932" weighs more than "siglo XX"; the fusion
scales it by how often catalogue dates disagree with what their text says, measured out-of-fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from db.dates import FoundDate, find_dates
from modeling.evidence.base import Estimates


@dataclass(frozen=True)
class StatedDate:
    field: str  # title | description: where it is written
    found: FoundDate  # the phrase, its offsets and what it reads as

    @property
    def width(self) -> int:
        return self.found.estimate.year_max - self.found.estimate.year_min


def stated_date(title: str | None, description: str | None) -> StatedDate | None:
    """The narrowest dated phrase of the title, then the description (None when neither states a year).

    >>> stated_date("Feria, años 50", "fotografiada en 1953").found.phrase
    '1953'
    """
    best = None
    for field, text in (("title", title), ("description", description)):
        for found in find_dates(text):
            if found.estimate.year is None:
                continue
            candidate = StatedDate(field, found)
            if best is None or candidate.width < best.width:
                best = candidate
    return best


def explicit_estimates(titles: list[str | None], descriptions: list[str | None]) -> Estimates:
    """Each record's stated year and relative variance 1 + span^2/12 (a uniform spread over the span)."""
    n = len(titles)
    year, var, present = np.zeros(n), np.ones(n), np.zeros(n, dtype=bool)
    for i, (title, description) in enumerate(zip(titles, descriptions, strict=True)):
        stated = stated_date(title, description)
        if stated is not None:
            year[i], var[i], present[i] = stated.found.estimate.year, 1.0 + stated.width**2 / 12.0, True
    return Estimates(year, var, present)
