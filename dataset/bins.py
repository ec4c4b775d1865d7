"""Year bins: the class vocabulary shared by curation and modeling.

Bin i covers the years [edges[i], edges[i+1]) and is labelled "1860-1879". The export writes the
bins into export.json; modeling reads them from there, never from this module's defaults.

>>> parse_bins("20y", origin=1860, year_max=1905).labels
('1860-1879', '1880-1899', '1900-1919')
>>> parse_bins("1860,1900,1930").labels
('1860-1899', '1900-1929')
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

from db.errors import PipelineError

DEFAULT_ORIGIN = 1860
# When the caller knows no latest year, bins run to the end of the archive's era.
DEFAULT_YEAR_MAX = 1999
NAMED_WIDTHS = {"decade": 10}
# Bin edges stay within these years: bins may open before photography (1826), never absurdly far from it.
EDGE_YEAR_MIN = 1800
EDGE_YEAR_MAX = 2100
# The widest Ny bin: a century. Wider bins leave one class, and a classifier scoring 1.000 on nothing.
MAX_BIN_WIDTH = 100


class BadBins(PipelineError):
    """A --bins value that cannot be read."""


@dataclass(frozen=True)
class Bins:
    edges: tuple[int, ...]  # n+1 increasing years; bin i is [edges[i], edges[i+1])
    labels: tuple[str, ...]  # n labels such as "1860-1879"
    spec: str  # the spec the bins were made from: "20y", "decade", "1860,1900,1991"
    origin: int  # the first edge

    def __len__(self) -> int:
        return len(self.labels)

    def index_of(self, year: int) -> int | None:
        """The bin holding `year`, or None when it falls outside every bin."""
        if year < self.edges[0] or year >= self.edges[-1]:
            return None
        return bisect_right(self.edges, year) - 1

    def index_of_range(self, year_min: int, year_max: int) -> int | None:
        """The bin holding the whole range [year_min, year_max], or None when it spans two or falls outside."""
        first = self.index_of(year_min)
        return first if first is not None and first == self.index_of(year_max) else None

    def to_json(self) -> dict:
        return {"spec": self.spec, "origin": self.origin, "edges": list(self.edges), "labels": list(self.labels)}

    @classmethod
    def from_json(cls, data: dict) -> Bins:
        return cls(tuple(data["edges"]), tuple(data["labels"]), data["spec"], data["origin"])


def bin_label(start: int, stop: int) -> str:
    """Label of the years [start, stop): "1860-1879", or "1860" for a one-year bin."""
    return str(start) if stop - start == 1 else f"{start}-{stop - 1}"


def bins_from_edges(edges: tuple[int, ...], spec: str) -> Bins:
    return Bins(tuple(edges), tuple(bin_label(a, b) for a, b in pairwise(edges)), spec, edges[0])


def parse_bins(spec: str, origin: int = DEFAULT_ORIGIN, year_max: int = DEFAULT_YEAR_MAX) -> Bins:
    """Bins from decade|10y|20y|Ny (aligned at `origin`, the last bin holding `year_max`) or explicit edges.

    Explicit edges "1860,1900,1930,1960,1991" ignore origin and year_max.
    """
    text = spec.strip().lower()
    if "," in text:
        try:
            edges = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise BadBins(f"Cannot read bin edges {spec!r}: expected increasing years such as 1860,1900,1930,1960,1991.") from None
        if any(b <= a for a, b in pairwise(edges)):  # a comma means at least two edges
            raise BadBins(f"Bin edges {spec!r} are not increasing: expected at least two increasing years such as 1860,1900,1991.")
        _check_edge(min(edges), "Bin edge")
        _check_edge(max(edges), "Bin edge")
        return bins_from_edges(edges, spec.strip())
    width = NAMED_WIDTHS.get(text)
    match = re.fullmatch(r"0*(\d+)\s*y", text)
    if width is None and match:
        digits = match.group(1)
        width = int(digits) if len(digits) <= 4 else MAX_BIN_WIDTH + 1  # int() refuses thousands of digits
    if not width:
        raise BadBins(f"Cannot read bins {spec!r}: expected decade, 10y, 20y, any Ny, or edges such as 1860,1900,1991.")
    if width > MAX_BIN_WIDTH:
        raise BadBins(f"Bins {spec!r} are wider than {MAX_BIN_WIDTH} years: expected 1y to {MAX_BIN_WIDTH}y "
                      "(e.g. 20y), or explicit edges such as 1860,1900,1991.")
    _check_edge(origin, "--origin")
    if year_max < origin:
        raise BadBins(f"Latest year {year_max} is before the bins' origin {origin}: pass an --origin at or before it.")
    count = (year_max - origin) // width + 1
    return bins_from_edges(tuple(origin + i * width for i in range(count + 1)), spec.strip())


def _check_edge(year: int, what: str) -> None:
    if not EDGE_YEAR_MIN <= year <= EDGE_YEAR_MAX:
        raise BadBins(f"{what} {year} is outside {EDGE_YEAR_MIN}..{EDGE_YEAR_MAX}: expected years of photographs "
                      "such as 1860.")
