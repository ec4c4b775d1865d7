"""One answer to "when was this photograph taken?", the same wherever it is shown.

Every output a person reads (predict's table, CSV and JSON, the API, the app, /records, the undated
suggestions) is built from an `Answer`, and every `Answer` comes from `make_answer`, so three facts hold
everywhere:
- the central year lies inside its interval;
- the period shown is the period that holds the central year (never a different, "most probable" one);
- "unsure" follows from the interval's width in years (UNSURE_WIDTH_YEARS), stated once, here.

A dater (the picture-only model of a run, or the fusion of picture, catalogue text, explicit dates,
holder and place) returns one `Answer` per photograph, with the `Evidence` it rests on in plain words.

>>> a = make_answer(1931.6, 1925.2, 1940.9, 0.8, edges=(1900, 1920, 1940, 1960), labels=("1900-1919",
...     "1920-1939", "1940-1959"), sources=("text",))
>>> a.year, a.low, a.high, a.period, a.unsure
(1932, 1925, 1941, '1920-1939', False)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Protocol

from PIL import Image

# An 80% interval wider than this many years says too little to lead with a year: the answer is "unsure"
# and a page leads with the interval. The model card states it.
UNSURE_WIDTH_YEARS = 40
INTERVAL_LEVEL = 0.8  # the interval's intended coverage; calibrated daters measure the real one


@dataclass(frozen=True)
class RecordFacts:
    """What the catalogue says of one photograph besides its date (all optional: an upload has none)."""

    title: str | None = None  # catalogued title
    description: str | None = None  # free-text description
    holder: str | None = None  # holder ("titular"), photographer or donor, as catalogued
    place: str | None = None  # catalogued place


@dataclass(frozen=True)
class Evidence:
    """One thing an answer rests on, said in both languages ("the title says 1932")."""

    source: str  # picture | text | explicit_date | holder | place | people (the source's name in ablation tables)
    es: str  # the sentence in Spanish
    en: str  # the same sentence in English

    def said(self, lang: str) -> str:
        return self.es if lang == "es" else self.en


@dataclass(frozen=True)
class Answer:
    year: int  # central year; low <= year <= high
    low: int  # interval's lower end (inclusive)
    high: int  # interval's upper end (inclusive)
    level: float  # the interval's intended coverage, e.g. 0.8
    period: str  # the label of the bin that holds `year`
    unsure: bool  # the interval is wider than UNSURE_WIDTH_YEARS: lead with the interval, not the year
    sources: tuple[str, ...]  # the evidence sources the answer used, e.g. ("picture", "text")
    evidence: tuple[Evidence, ...] = ()  # what it rests on, in plain words
    top: tuple[tuple[str, float], ...] = field(default=())  # optional (bin label, probability), most probable first

    def to_dict(self) -> dict:
        """JSON-able form, the one the API, predict's JSON and the app share."""
        return {"year": self.year, "low": self.low, "high": self.high, "level": self.level,
                "period": self.period, "unsure": self.unsure, "sources": list(self.sources),
                "evidence": [{"source": e.source, "es": e.es, "en": e.en} for e in self.evidence],
                "top": [{"bin": label, "probability": round(p, 4)} for label, p in self.top]}


def period_of(year: float, edges: Sequence[int], labels: Sequence[str]) -> str:
    """The label of the bin [edges[i], edges[i+1]) holding `year`; years outside go to the end bins.

    >>> period_of(1939.6, (1900, 1920, 1940), ("1900-1919", "1920-1939"))
    '1920-1939'
    >>> period_of(1850, (1900, 1920, 1940), ("1900-1919", "1920-1939"))
    '1900-1919'
    """
    index = bisect.bisect_right(list(edges), year) - 1
    return labels[min(max(index, 0), len(labels) - 1)]


def interval_top(year: int, low: int, high: int, level: float, edges: Sequence[int], labels: Sequence[str],
                 k: int = 3) -> tuple[tuple[str, float], ...]:
    """The `k` most probable periods of the normal distribution an answer implies: centred on its year, with the
    spread that puts `level` of it inside [low, high], cut to the bins' span. With bins of equal width the period
    holding the year comes first, so the list never contradicts the answer.

    >>> interval_top(1932, 1925, 1941, 0.8, (1900, 1920, 1940, 1960), ("1900-1919", "1920-1939", "1940-1959"))
    (('1920-1939', 0.8412), ('1940-1959', 0.1291), ('1900-1919', 0.0297))
    """
    z = NormalDist().inv_cdf((1 + level) / 2)
    spread = max((high + 1 - low) / 2 / z, 0.5)  # whole years: [low, high] spans high + 1 - low years
    curve = NormalDist(year + 0.5, spread)  # the middle of the year
    cdf = [curve.cdf(edge) for edge in edges]
    mass = [cdf[i + 1] - cdf[i] for i in range(len(labels))]
    total = sum(mass) or 1.0
    ranked = sorted(range(len(labels)), key=lambda i: (-mass[i], labels[i] != period_of(year, edges, labels)))
    return tuple((labels[i], round(mass[i] / total, 4)) for i in ranked[:k])


def make_answer(year: float, low: float, high: float, level: float, *, edges: Sequence[int],
                labels: Sequence[str], sources: Sequence[str], evidence: Sequence[Evidence] = (),
                top: Sequence[tuple[str, float]] = (), top_from_interval: bool = False) -> Answer:
    """The one way to build an Answer: rounds to whole years (interval outwards), keeps the year inside the
    interval, names the period that holds the rounded year and sets `unsure` from the interval's width.
    `top_from_interval` (a dater with no bin probabilities of its own, the fusion) lists interval_top."""
    low_year, high_year = math.floor(min(low, high)), math.ceil(max(low, high))
    central = min(max(int(round(year)), low_year), high_year)
    if top_from_interval and not top:
        top = interval_top(central, low_year, high_year, level, edges, labels)
    return Answer(year=central, low=low_year, high=high_year, level=float(level),
                  period=period_of(central, edges, labels), unsure=(high_year - low_year) > UNSURE_WIDTH_YEARS,
                  sources=tuple(sources), evidence=tuple(evidence), top=tuple(top))


class Dater(Protocol):
    """Anything that dates photographs: one Answer per (facts, picture) pair; a picture may be None."""

    def date(self, facts: Sequence[RecordFacts], images: Sequence[Image.Image | None]) -> list[Answer]: ...
